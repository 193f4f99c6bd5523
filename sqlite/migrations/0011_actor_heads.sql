-- Where each actor's chain ends: how many chained entries the actor has
-- (the next entry's actor_seq) and the seq of the last one (the next
-- entry's actor_prev). Entries committed before this table existed carry no
-- chain; every actor's chain starts at the first entry committed after it.
CREATE TABLE actor_heads (
	actor_id  TEXT    PRIMARY KEY,
	chain_len INTEGER NOT NULL CHECK (chain_len > 0),
	last_seq  INTEGER NOT NULL
) STRICT;

-- A chain only grows: a head moves forward or not at all, and is never
-- removed or replaced (INSERT OR REPLACE removes without a DELETE trigger, so
-- an insert for an actor that has a head is refused too).
CREATE TRIGGER actor_heads_insert_new BEFORE INSERT ON actor_heads
WHEN EXISTS (SELECT 1 FROM actor_heads WHERE actor_id = NEW.actor_id)
BEGIN SELECT RAISE(ABORT, 'actor chains only grow'); END;
CREATE TRIGGER actor_heads_only_grow BEFORE UPDATE ON actor_heads
WHEN NEW.actor_id IS NOT OLD.actor_id OR NEW.chain_len <= OLD.chain_len OR NEW.last_seq <= OLD.last_seq
BEGIN SELECT RAISE(ABORT, 'actor chains only grow'); END;
CREATE TRIGGER actor_heads_no_delete BEFORE DELETE ON actor_heads
BEGIN SELECT RAISE(ABORT, 'actor chains only grow'); END;
