-- The audit log on PostgreSQL: the same rows as the SQLite schema, with
-- entries range-partitioned by month. Every text column that is compared or
-- ordered uses COLLATE "C", so ordering is byte order, as in SQLite and Go.

-- The single log-state row: the next dense seq. Commits lock it (FOR UPDATE),
-- so two servers writing to one database never fork or reuse a seq.
CREATE TABLE log_state (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	next_seq  bigint  NOT NULL CHECK (next_seq >= 0)
);
INSERT INTO log_state (singleton, next_seq) VALUES (true, 0);

-- Entries: append-only, one row per audited mutation, partitioned by the
-- month of occurred_us (unix microseconds, UTC).
CREATE TABLE entries (
	seq           bigint NOT NULL,                  -- 0, 1, 2, ... in commit order (Merkle leaf index)
	id            text COLLATE "C" NOT NULL,
	actor_id      text COLLATE "C" NOT NULL,
	action        text COLLATE "C" NOT NULL,
	resource_type text COLLATE "C" NOT NULL,
	resource_id   text COLLATE "C" NOT NULL,
	project_id    text COLLATE "C",
	outcome       text COLLATE "C" NOT NULL CHECK (outcome IN ('success', 'failed')),
	occurred_us   bigint NOT NULL,
	received_us   bigint NOT NULL,                  -- when the sequencer committed it
	canonical     bytea  NOT NULL                   -- the exact bytes served, hashed and exported
) PARTITION BY RANGE (occurred_us);

-- Ids are unique across partitions here (a partitioned table cannot have a
-- UNIQUE (id) without the partition key); so are seqs. Idempotent resends
-- and reads by id start from this table.
CREATE TABLE entry_ids (
	id          text COLLATE "C" PRIMARY KEY,
	seq         bigint NOT NULL UNIQUE,
	occurred_us bigint NOT NULL,                    -- finds the entry's partition
	fingerprint bytea  NOT NULL                     -- SHA-256 of the event as sent
);

-- Keyset indexes: every user read is (actor_id = $1) ordered by (occurred_us, id) desc.
CREATE INDEX entries_actor          ON entries (actor_id, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_action   ON entries (actor_id, action, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_type     ON entries (actor_id, resource_type, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_outcome  ON entries (actor_id, outcome, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_project  ON entries (actor_id, project_id, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_resource ON entries (actor_id, resource_id, occurred_us DESC, id DESC);
-- The project owner's admin trail.
CREATE INDEX entries_project ON entries (project_id, occurred_us DESC, id DESC) WHERE project_id IS NOT NULL;
-- Leaf lookups by seq (idempotent resends now, proofs and exports later).
CREATE INDEX entries_seq ON entries (seq);
-- Rows arrive roughly in time order, so a BRIN index summarises a partition's
-- time ranges in a few pages: unscoped time-window scans (exports, counts) skip most of it.
CREATE INDEX entries_occurred_brin ON entries USING brin (occurred_us);

-- Immutability, enforced by PostgreSQL for every role, the owner included.
CREATE FUNCTION auditlog_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit entries are immutable: % on % refused', TG_OP, TG_TABLE_NAME
		USING ERRCODE = 'raise_exception';
END
$$;
-- Row triggers on a partitioned table are cloned onto every partition.
CREATE TRIGGER entries_immutable BEFORE UPDATE OR DELETE ON entries
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
-- Statement triggers are not: each partition gets its own TRUNCATE trigger too.
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER entry_ids_immutable BEFORE UPDATE OR DELETE ON entry_ids
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER entry_ids_no_truncate BEFORE TRUNCATE ON entry_ids
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

-- The log only grows: next_seq never goes back, and its row never goes away.
CREATE FUNCTION auditlog_log_state_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR NEW.next_seq < OLD.next_seq THEN
		RAISE EXCEPTION 'the audit log only grows: % on log_state refused', TG_OP
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER log_state_forward BEFORE UPDATE OR DELETE ON log_state
	FOR EACH ROW EXECUTE FUNCTION auditlog_log_state_forward();
CREATE TRIGGER log_state_no_truncate BEFORE TRUNCATE ON log_state
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

-- Events outside 2000..2099 (the contract allows 1970..9999) land in two
-- catch-all partitions, so the number of partitions stays bounded (at most
-- 1,200 months plus these two) and no month ever has to be carved out of a
-- DEFAULT partition, which would mean moving immutable rows.
CREATE TABLE entries_before_2000 PARTITION OF entries FOR VALUES FROM (MINVALUE) TO (946684800000000);
CREATE TABLE entries_from_2100 PARTITION OF entries FOR VALUES FROM (4102444800000000) TO (MAXVALUE);
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries_before_2000
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries_from_2100
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();

-- Month partitions are made by this function, owned by the schema owner and
-- SECURITY DEFINER, so the runtime role (which may only EXECUTE it) can have
-- the next month created without owning, or being able to drop, anything.
-- The table is created empty and then attached, which locks the parent only
-- in SHARE UPDATE EXCLUSIVE mode: reads and writes continue meanwhile.
CREATE FUNCTION auditlog_create_partition(year integer, month integer) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	name  text := format('entries_y%sm%s', year, lpad(month::text, 2, '0'));
	lo_us bigint;
	hi_us bigint;
BEGIN
	IF year < 2000 OR year > 2099 OR month < 1 OR month > 12 THEN
		RAISE EXCEPTION 'no month partition for %-%: outside 2000..2099', year, month
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- One creator at a time (across servers); the lock ends with the transaction.
	PERFORM pg_advisory_xact_lock(7314521609137254002);
	IF to_regclass(name) IS NOT NULL THEN
		RETURN name;
	END IF;
	lo_us := (extract(epoch FROM make_timestamptz(year, month, 1, 0, 0, 0, 'UTC')) * 1000000)::bigint;
	hi_us := (extract(epoch FROM make_timestamptz(year + month / 12, month % 12 + 1, 1, 0, 0, 0, 'UTC')) * 1000000)::bigint;
	EXECUTE format('CREATE TABLE %I (LIKE entries INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
	EXECUTE format('ALTER TABLE entries ATTACH PARTITION %I FOR VALUES FROM (%s) TO (%s)', name, lo_us, hi_us);
	EXECUTE format('CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON %I FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change()', name);
	RETURN name;
END
$$;
REVOKE ALL ON FUNCTION auditlog_create_partition(integer, integer) FROM PUBLIC;
-- Pin the function's search_path to this schema (plus pg_temp last), the
-- usual hardening of a SECURITY DEFINER function.
DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION auditlog_create_partition(integer, integer) SET search_path = %I, pg_temp', current_schema());
END
$$;

-- Who owns a project: the admin trail's access rule.
CREATE TABLE projects (
	project_id text COLLATE "C" PRIMARY KEY,
	owner_id   text COLLATE "C" NOT NULL,
	updated_us bigint NOT NULL
);
CREATE INDEX projects_owner ON projects (owner_id);

-- API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
	id         text COLLATE "C" PRIMARY KEY,
	kind       text NOT NULL CHECK (kind IN ('user', 'writer')),
	user_id    text COLLATE "C",
	hash       bytea NOT NULL,
	created_us bigint NOT NULL,
	revoked_us bigint
);

-- Server-side secrets made once (the cursor signing key).
CREATE TABLE secrets (
	name  text COLLATE "C" PRIMARY KEY,
	value bytea NOT NULL
);
