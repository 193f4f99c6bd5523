-- Readiness: a write of the server's own that proves commits can succeed
-- now (reachable, not a read-only standby, room to write) without touching
-- entries. One row, rewritten in place with a payload as large as the commit
-- it stands for, stored uncompressed so that its size is real; the runtime
-- role may UPDATE only this table.
CREATE TABLE write_probe (
	id        smallint PRIMARY KEY CHECK (id = 1),
	probed_us bigint   NOT NULL,
	payload   bytea    NOT NULL
);
ALTER TABLE write_probe ALTER COLUMN payload SET STORAGE EXTERNAL;
INSERT INTO write_probe (id, probed_us, payload) VALUES (1, 0, '\x');
