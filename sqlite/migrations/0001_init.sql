-- Entries: append-only, one row per audited mutation, with a dense seq.
CREATE TABLE entries (
	seq           INTEGER PRIMARY KEY,   -- 0, 1, 2, ... in commit order (Merkle leaf index)
	id            TEXT    NOT NULL UNIQUE,
	actor_id      TEXT    NOT NULL,
	action        TEXT    NOT NULL,
	resource_type TEXT    NOT NULL,
	resource_id   TEXT    NOT NULL,
	project_id    TEXT,
	outcome       TEXT    NOT NULL CHECK (outcome IN ('success', 'failed')),
	occurred_us   INTEGER NOT NULL,      -- unix microseconds, UTC
	received_us   INTEGER NOT NULL,      -- when the sequencer committed it
	fingerprint   BLOB    NOT NULL,      -- SHA-256 of the event as sent, for idempotency
	canonical     BLOB    NOT NULL       -- the exact bytes served, hashed and exported
) STRICT;

-- Keyset indexes: every user read is (actor_id = ?) ordered by (occurred_us, id) desc.
CREATE INDEX entries_actor          ON entries (actor_id, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_action   ON entries (actor_id, action, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_type     ON entries (actor_id, resource_type, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_outcome  ON entries (actor_id, outcome, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_project  ON entries (actor_id, project_id, occurred_us DESC, id DESC);
CREATE INDEX entries_actor_resource ON entries (actor_id, resource_id, occurred_us DESC, id DESC);
-- The project owner's admin trail.
CREATE INDEX entries_project ON entries (project_id, occurred_us DESC, id DESC) WHERE project_id IS NOT NULL;

-- Immutability: no UPDATE, no DELETE, and no INSERT that would replace a row
-- (INSERT OR REPLACE deletes without firing DELETE triggers) or break the dense seq.
CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are immutable'); END;
CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'audit entries are immutable'); END;
CREATE TRIGGER entries_append_only BEFORE INSERT ON entries
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), -1) + 1 FROM entries)
  OR EXISTS (SELECT 1 FROM entries WHERE id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only with dense seqs'); END;

-- Who owns a project: the admin trail's access rule.
CREATE TABLE projects (
	project_id TEXT PRIMARY KEY,
	owner_id   TEXT NOT NULL,
	updated_us INTEGER NOT NULL
) STRICT;
CREATE INDEX projects_owner ON projects (owner_id);

-- API tokens: only the SHA-256 of the secret is kept.
CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL CHECK (kind IN ('user', 'writer')),
	user_id    TEXT,
	hash       BLOB NOT NULL,
	created_us INTEGER NOT NULL,
	revoked_us INTEGER
) STRICT;

-- Server-side secrets made once (the cursor signing key).
CREATE TABLE secrets (
	name  TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;
