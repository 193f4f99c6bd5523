-- Tamper evidence: an RFC 6962 Merkle tree over entries' canonical bytes in
-- seq order, extended in the transaction that commits the entries (under the
-- same log_state row lock that hands out seqs).

-- The committed tree as a compact range, kept in the log-state row so that
-- the lock that orders commits also orders the tree.
ALTER TABLE log_state
	ADD COLUMN tree_size        bigint NOT NULL DEFAULT 0,    -- leaves in the tree: entries with seq < tree_size
	ADD COLUMN tree_frontier    bytea  NOT NULL DEFAULT '\x', -- roots of the perfect subtrees covering [0, tree_size), 32 bytes each, left to right
	ADD COLUMN tree_root        bytea  NOT NULL DEFAULT '\xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', -- SHA-256 of nothing: the empty tree
	ADD COLUMN tree_backfill_to bigint NOT NULL DEFAULT 0;    -- entries committed before this migration, added to the tree at open
-- Set before the trigger below forbids changing it.
UPDATE log_state SET tree_backfill_to = next_seq;

-- The log and its tree only grow, and move together: next_seq never goes
-- back; tree_size never goes back nor passes next_seq; a commit that advances
-- next_seq must bring the tree to the same size (so a server that does not
-- extend the tree, e.g. an older version during an upgrade, cannot commit);
-- the tree's hashes change only when it grows; the backfill target is fixed.
CREATE OR REPLACE FUNCTION auditlog_log_state_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR NEW.next_seq < OLD.next_seq OR NEW.tree_size < OLD.tree_size THEN
		RAISE EXCEPTION 'the audit log only grows: % on log_state refused', TG_OP
			USING ERRCODE = 'raise_exception';
	END IF;
	IF NEW.tree_size > NEW.next_seq
		OR (NEW.next_seq <> OLD.next_seq AND NEW.tree_size <> NEW.next_seq)
		OR (NEW.tree_size = OLD.tree_size AND (NEW.tree_frontier <> OLD.tree_frontier OR NEW.tree_root <> OLD.tree_root))
		OR NEW.tree_backfill_to <> OLD.tree_backfill_to THEN
		RAISE EXCEPTION 'the Merkle tree only grows, with the log: % on log_state refused', TG_OP
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;

-- Hashes of perfect subtrees: level 0 holds leaf hashes, level l the roots of
-- subtrees of 2^l leaves. Proofs are served from O(log n) lookups here.
CREATE TABLE tree_nodes (
	level smallint NOT NULL,
	idx   bigint   NOT NULL,
	hash  bytea    NOT NULL,
	PRIMARY KEY (level, idx)
);
-- INSERT ... ON CONFLICT DO UPDATE fires the UPDATE trigger too.
CREATE TRIGGER tree_nodes_immutable BEFORE UPDATE OR DELETE ON tree_nodes
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER tree_nodes_no_truncate BEFORE TRUNCATE ON tree_nodes
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

-- Signed checkpoints, the history: sizes only grow, nothing is ever changed.
CREATE TABLE checkpoints (
	size       bigint PRIMARY KEY,
	root       bytea  NOT NULL,
	note       bytea  NOT NULL,  -- the signed note exactly as served
	created_us bigint NOT NULL
);
CREATE TRIGGER checkpoints_immutable BEFORE UPDATE OR DELETE ON checkpoints
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER checkpoints_no_truncate BEFORE TRUNCATE ON checkpoints
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
-- Writers serialise on the log_state row (AddCheckpoint locks it), so this
-- check sees every checkpoint committed before.
CREATE FUNCTION auditlog_checkpoints_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM checkpoints WHERE size >= NEW.size) THEN
		RAISE EXCEPTION 'checkpoint sizes only grow: checkpoint % refused', NEW.size
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER checkpoints_grow BEFORE INSERT ON checkpoints
	FOR EACH ROW EXECUTE FUNCTION auditlog_checkpoints_grow();

-- Exports walk one user's entries in seq order. An index on the partitioned
-- table is made on every partition, present and future (ATTACH PARTITION
-- creates it on the month partitions auditlog_create_partition makes).
CREATE INDEX entries_actor_seq ON entries (actor_id, seq);
