-- Where each actor's chain ends: how many chained entries the actor has
-- (the next entry's actor_seq) and the seq of the last one (the next
-- entry's actor_prev). Updated under the log_state lock by every commit.
-- Entries committed before this table existed carry no chain; every actor's
-- chain starts at the first entry committed after it.
CREATE TABLE actor_heads (
	actor_id  text   PRIMARY KEY,
	chain_len bigint NOT NULL CHECK (chain_len > 0),
	last_seq  bigint NOT NULL
);

-- A chain only grows: a head moves forward or not at all, and is never removed.
CREATE FUNCTION auditlog_actor_heads_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR NEW.actor_id <> OLD.actor_id
		OR NEW.chain_len <= OLD.chain_len OR NEW.last_seq <= OLD.last_seq THEN
		RAISE EXCEPTION 'actor chains only grow: % on actor_heads refused', TG_OP
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER actor_heads_forward BEFORE UPDATE OR DELETE ON actor_heads
	FOR EACH ROW EXECUTE FUNCTION auditlog_actor_heads_forward();
CREATE TRIGGER actor_heads_no_truncate BEFORE TRUNCATE ON actor_heads
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
