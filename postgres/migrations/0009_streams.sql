-- Streams (issue 12): the destinations entries are delivered to, each with
-- its delivery position and, for servers sharing one database, a lease
-- saying which server delivers it (lease_node NULL, or lease_until_us at or
-- before now, means free). version grows with every change a user or a
-- delivery makes, and writes are conditional on it; taking the lease does
-- not change it. The runtime role may SELECT, INSERT, UPDATE and DELETE
-- here (granted by postgres.Init, see roles.go): streams are configuration,
-- not audit evidence.
CREATE TABLE streams (
	id             text COLLATE "C" PRIMARY KEY,
	owner_id       text COLLATE "C" NOT NULL,
	scope          text    NOT NULL,
	project_id     text COLLATE "C",      -- NULL for scope "me"
	type           text    NOT NULL,
	url            text    NOT NULL,
	credential     bytea,                 -- sealed webhook secret or HEC token; NULL for syslog
	status         text    NOT NULL CHECK (status IN ('active', 'paused')),
	position       bigint  NOT NULL DEFAULT -1, -- last seq delivered; -1 before any
	last_error     text,                  -- NULL when the last attempt succeeded
	failures       integer NOT NULL DEFAULT 0,
	created_us     bigint  NOT NULL,
	updated_us     bigint  NOT NULL,
	version        bigint  NOT NULL,
	lease_node     text,
	lease_until_us bigint  NOT NULL DEFAULT 0
);
-- A user's streams, oldest first.
CREATE INDEX streams_owner ON streams (owner_id, created_us, id);
