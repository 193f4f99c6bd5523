-- The Merkle tree's hashes as C2SP tlog-tiles of height 8, instead of one
-- row per node: tile (level L, idx N) holds the hashes of the tree nodes at
-- level 8L with indexes 256N .. 256N+W-1, concatenated (32 bytes each, W
-- from 1 to 256). Proofs compute the nodes of levels between from them, and
-- GET /tile/L/N serves them as they are. A full tile (W = 256) never
-- changes; the partial tile at the right edge of each level only grows, by
-- appending hashes. Hashes do not compress: stored without trying.
CREATE TABLE tiles (
	level  smallint NOT NULL CHECK (level BETWEEN 0 AND 7),
	idx    bigint   NOT NULL CHECK (idx >= 0),
	hashes bytea    NOT NULL CHECK (length(hashes) BETWEEN 32 AND 8192 AND length(hashes) % 32 = 0),
	PRIMARY KEY (level, idx)
);
ALTER TABLE tiles ALTER COLUMN hashes SET STORAGE EXTERNAL;

-- The tiles of the nodes stored so far, in index order.
INSERT INTO tiles (level, idx, hashes)
SELECT level / 8, idx / 256, string_agg(hash, ''::bytea ORDER BY idx)
FROM tree_nodes WHERE level % 8 = 0
GROUP BY level / 8, idx / 256;

-- A partial tile may be rewritten with more hashes that start with its own
-- (INSERT ... ON CONFLICT DO UPDATE fires this too); nothing else changes.
CREATE FUNCTION auditlog_tiles_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.level <> OLD.level OR NEW.idx <> OLD.idx
		OR length(OLD.hashes) >= 8192 OR length(NEW.hashes) <= length(OLD.hashes)
		OR substring(NEW.hashes FROM 1 FOR length(OLD.hashes)) <> OLD.hashes THEN
		RAISE EXCEPTION 'tiles are immutable: a partial tile only grows (tile %/% refused)', OLD.level, OLD.idx
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER tiles_only_grow BEFORE UPDATE ON tiles
	FOR EACH ROW EXECUTE FUNCTION auditlog_tiles_only_grow();
CREATE TRIGGER tiles_immutable BEFORE DELETE ON tiles
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER tiles_no_truncate BEFORE TRUNCATE ON tiles
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

DROP TABLE tree_nodes;
