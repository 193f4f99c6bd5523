-- Retention (issue 12): `auditlog db prune`, run by the owner, drops whole
-- month partitions of entries; the leaf hashes stay in the tiles, so every
-- proof still verifies. entry_ids keeps every id (ids are never reused).

-- What a prune keeps of each removed entry: its actor's GET answers
-- "pruned", and verify requires a prune record covering it. Filled in the
-- prune's transaction from the partitions about to be dropped.
CREATE TABLE pruned_entries (
	seq         bigint PRIMARY KEY,
	id          text COLLATE "C" NOT NULL UNIQUE,
	actor_id    text COLLATE "C" NOT NULL,
	occurred_us bigint NOT NULL,
	fingerprint bytea  NOT NULL
);
CREATE TRIGGER pruned_entries_immutable BEFORE UPDATE OR DELETE ON pruned_entries
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER pruned_entries_no_truncate BEFORE TRUNCATE ON pruned_entries
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

-- A copy of every audit_log.retention_prune record, kept after the record
-- itself is pruned: verify checks it against the leaf at its seq.
CREATE TABLE prune_records (
	seq       bigint PRIMARY KEY,
	canonical bytea  NOT NULL
);
CREATE TRIGGER prune_records_immutable BEFORE UPDATE OR DELETE ON prune_records
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER prune_records_no_truncate BEFORE TRUNCATE ON prune_records
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
