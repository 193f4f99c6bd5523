-- Streams (issue 12): the destinations entries are delivered to, each with
-- its delivery position and, for servers sharing one database, a lease
-- saying which server delivers it (lease_node NULL, or lease_until_us at or
-- before now, means free). version grows with every change a user or a
-- delivery makes, and writes are conditional on it; taking the lease does
-- not change it.
CREATE TABLE streams (
	id             TEXT    PRIMARY KEY,
	owner_id       TEXT    NOT NULL,
	scope          TEXT    NOT NULL,
	project_id     TEXT,                  -- NULL for scope "me"
	type           TEXT    NOT NULL,
	url            TEXT    NOT NULL,
	credential     BLOB,                  -- sealed webhook secret or HEC token; NULL for syslog
	status         TEXT    NOT NULL CHECK (status IN ('active', 'paused')),
	position       INTEGER NOT NULL DEFAULT -1, -- last seq delivered; -1 before any
	last_error     TEXT,                  -- NULL when the last attempt succeeded
	failures       INTEGER NOT NULL DEFAULT 0,
	created_us     INTEGER NOT NULL,
	updated_us     INTEGER NOT NULL,
	version        INTEGER NOT NULL,
	lease_node     TEXT,
	lease_until_us INTEGER NOT NULL DEFAULT 0
) STRICT;
-- A user's streams, oldest first.
CREATE INDEX streams_owner ON streams (owner_id, created_us, id);
