-- Readiness: a write of the server's own that proves commits can succeed
-- now (disk space, locks) without touching entries. One row, rewritten in
-- place with a payload as large as the commit it stands for.
CREATE TABLE write_probe (
	id        INTEGER PRIMARY KEY CHECK (id = 1),
	probed_us INTEGER NOT NULL,
	payload   BLOB    NOT NULL
) STRICT;
INSERT INTO write_probe (id, probed_us, payload) VALUES (1, 0, x'');
