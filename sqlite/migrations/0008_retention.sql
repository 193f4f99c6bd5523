-- Retention (issue 12): `auditlog db prune` removes the bodies of the oldest
-- entries; their leaf hashes stay in the tiles, so every proof still verifies.

-- What a prune keeps of each removed entry: its actor's GET answers
-- "pruned", its id stays reserved, and verify requires a prune record
-- covering it. Filled by the trigger below, in the deleting transaction.
CREATE TABLE pruned_entries (
	seq         INTEGER PRIMARY KEY,
	id          TEXT    NOT NULL UNIQUE,
	actor_id    TEXT    NOT NULL,
	occurred_us INTEGER NOT NULL,
	fingerprint BLOB    NOT NULL
) STRICT;
CREATE TRIGGER pruned_entries_no_update BEFORE UPDATE ON pruned_entries
BEGIN SELECT RAISE(ABORT, 'tombstones are immutable'); END;
CREATE TRIGGER pruned_entries_no_delete BEFORE DELETE ON pruned_entries
BEGIN SELECT RAISE(ABORT, 'tombstones are immutable'); END;

-- A copy of every audit_log.retention_prune record, kept after the record
-- itself is pruned: verify checks it against the leaf at its seq.
CREATE TABLE prune_records (
	seq       INTEGER PRIMARY KEY,
	canonical BLOB    NOT NULL
) STRICT;
CREATE TRIGGER prune_records_no_update BEFORE UPDATE ON prune_records
BEGIN SELECT RAISE(ABORT, 'prune records are immutable'); END;
CREATE TRIGGER prune_records_no_delete BEFORE DELETE ON prune_records
BEGIN SELECT RAISE(ABORT, 'prune records are immutable'); END;

-- The retention horizon: entries that occurred before before_us may be
-- deleted, no others. One row; it only moves forward, never past now.
CREATE TABLE retention_horizon (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	before_us INTEGER NOT NULL
) STRICT;
INSERT INTO retention_horizon (id, before_us) VALUES (1, -9223372036854775808);
CREATE TRIGGER retention_horizon_no_delete BEFORE DELETE ON retention_horizon
BEGIN SELECT RAISE(ABORT, 'the retention horizon only moves forward'); END;
CREATE TRIGGER retention_horizon_one_row BEFORE INSERT ON retention_horizon
BEGIN SELECT RAISE(ABORT, 'the retention horizon only moves forward'); END;
CREATE TRIGGER retention_horizon_forward BEFORE UPDATE ON retention_horizon
WHEN NEW.id IS NOT OLD.id OR NEW.before_us < OLD.before_us
	OR NEW.before_us > CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER)
BEGIN SELECT RAISE(ABORT, 'the retention horizon only moves forward, and never past now'); END;

-- Entries stay immutable; a DELETE is allowed only below the horizon, and
-- leaves a tombstone.
DROP TRIGGER entries_no_delete;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
WHEN OLD.occurred_us >= (SELECT before_us FROM retention_horizon WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit entries are immutable: only entries before the retention horizon may be pruned'); END;
CREATE TRIGGER entries_tombstone AFTER DELETE ON entries
BEGIN
	INSERT INTO pruned_entries (seq, id, actor_id, occurred_us, fingerprint)
	VALUES (OLD.seq, OLD.id, OLD.actor_id, OLD.occurred_us, OLD.fingerprint);
END;

-- Appends continue after the log's end even when its last rows were pruned,
-- and never reuse a pruned id.
DROP TRIGGER entries_append_only;
CREATE TRIGGER entries_append_only BEFORE INSERT ON entries
WHEN NEW.seq IS NOT MAX((SELECT COALESCE(MAX(seq), -1) FROM entries), (SELECT COALESCE(MAX(seq), -1) FROM pruned_entries)) + 1
  OR EXISTS (SELECT 1 FROM entries WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM pruned_entries WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only with dense seqs'); END;
