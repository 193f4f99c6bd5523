-- Tamper evidence: an RFC 6962 Merkle tree over entries' canonical bytes in
-- seq order, extended in the transaction that commits the entries.

-- The committed tree as a compact range: one row.
CREATE TABLE tree_state (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	size        INTEGER NOT NULL,    -- leaves in the tree: entries with seq < size
	frontier    BLOB    NOT NULL,    -- roots of the perfect subtrees covering [0, size), 32 bytes each, left to right
	root        BLOB    NOT NULL,    -- the tree's root hash
	backfill_to INTEGER NOT NULL     -- entries committed before this migration, added to the tree at open
) STRICT;
INSERT INTO tree_state (id, size, frontier, root, backfill_to)
VALUES (1, 0, x'', x'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        (SELECT COALESCE(MAX(seq), -1) + 1 FROM entries));

CREATE TRIGGER tree_state_no_delete BEFORE DELETE ON tree_state
BEGIN SELECT RAISE(ABORT, 'the tree state is append-only'); END;
CREATE TRIGGER tree_state_one_row BEFORE INSERT ON tree_state
BEGIN SELECT RAISE(ABORT, 'the tree state is append-only'); END;
CREATE TRIGGER tree_state_grows BEFORE UPDATE ON tree_state
WHEN NEW.size < OLD.size OR NEW.id IS NOT OLD.id
BEGIN SELECT RAISE(ABORT, 'the tree state is append-only'); END;

-- Hashes of perfect subtrees: level 0 holds leaf hashes, level l the roots of
-- subtrees of 2^l leaves. Proofs are served from O(log n) lookups here.
CREATE TABLE tree_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB    NOT NULL,
	PRIMARY KEY (level, idx)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER tree_nodes_no_update BEFORE UPDATE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;
CREATE TRIGGER tree_nodes_no_delete BEFORE DELETE ON tree_nodes
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;
-- INSERT OR REPLACE deletes without firing DELETE triggers.
CREATE TRIGGER tree_nodes_no_replace BEFORE INSERT ON tree_nodes
WHEN EXISTS (SELECT 1 FROM tree_nodes WHERE level = NEW.level AND idx = NEW.idx)
BEGIN SELECT RAISE(ABORT, 'tree nodes are immutable'); END;

-- Signed checkpoints, the history: sizes only grow, nothing is ever changed.
CREATE TABLE checkpoints (
	size       INTEGER PRIMARY KEY,
	root       BLOB    NOT NULL,
	note       BLOB    NOT NULL,     -- the signed note exactly as served
	created_us INTEGER NOT NULL
) STRICT;

CREATE TRIGGER checkpoints_no_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;
CREATE TRIGGER checkpoints_no_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'checkpoints are immutable'); END;
CREATE TRIGGER checkpoints_grow BEFORE INSERT ON checkpoints
WHEN NEW.size <= (SELECT COALESCE(MAX(size), -1) FROM checkpoints)
BEGIN SELECT RAISE(ABORT, 'checkpoint sizes only grow'); END;

-- Exports walk one user's entries in seq order.
CREATE INDEX entries_actor_seq ON entries (actor_id, seq);
