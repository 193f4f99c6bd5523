-- The Merkle tree's hashes as C2SP tlog-tiles of height 8, instead of one
-- row per node: tile (level L, idx N) holds the hashes of the tree nodes at
-- level 8L with indexes 256N .. 256N+W-1, concatenated (32 bytes each, W
-- from 1 to 256). Proofs compute the nodes of levels between from them, and
-- GET /tile/L/N serves them as they are. A full tile (W = 256) never
-- changes; the partial tile at the right edge of each level only grows, by
-- appending hashes. A rowid table: tiles are up to 8 KiB, too large for
-- WITHOUT ROWID.
CREATE TABLE tiles (
	level  INTEGER NOT NULL CHECK (level BETWEEN 0 AND 7),
	idx    INTEGER NOT NULL CHECK (idx >= 0),
	hashes BLOB    NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
	PRIMARY KEY (level, idx)
) STRICT;

-- The tiles of the nodes stored so far, in index order.
INSERT INTO tiles (level, idx, hashes)
SELECT level / 8, idx / 256, unhex(group_concat(hex(hash), '' ORDER BY idx))
FROM tree_nodes WHERE level % 8 = 0
GROUP BY level / 8, idx / 256;

CREATE TRIGGER tiles_no_delete BEFORE DELETE ON tiles
BEGIN SELECT RAISE(ABORT, 'tiles are immutable: a partial tile only grows'); END;
-- INSERT OR REPLACE deletes without firing DELETE triggers.
CREATE TRIGGER tiles_no_replace BEFORE INSERT ON tiles
WHEN EXISTS (SELECT 1 FROM tiles WHERE level = NEW.level AND idx = NEW.idx)
BEGIN SELECT RAISE(ABORT, 'tiles are immutable: a partial tile only grows'); END;
-- A partial tile may be rewritten with more hashes that start with its own.
CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
WHEN NEW.level IS NOT OLD.level OR NEW.idx IS NOT OLD.idx
	OR length(OLD.hashes) >= 8192 OR length(NEW.hashes) <= length(OLD.hashes)
	OR substr(NEW.hashes, 1, length(OLD.hashes)) IS NOT OLD.hashes
BEGIN SELECT RAISE(ABORT, 'tiles are immutable: a partial tile only grows'); END;

DROP TABLE tree_nodes;
