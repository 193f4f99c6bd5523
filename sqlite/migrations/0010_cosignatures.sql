-- Witness cosignatures (issue 13): the C2SP tlog-cosignature lines witnesses
-- returned for our checkpoints, one per witness and checkpoint size, each
-- verified with the witness's key before it is stored. Served appended to the
-- checkpoint of that size; never changed.
CREATE TABLE cosignatures (
	size    INTEGER NOT NULL, -- the checkpoint's tree size
	witness TEXT    NOT NULL, -- the witness's key name (from its operator-configured verifier key)
	line    TEXT    NOT NULL, -- the signature line, "— <name> <base64>", without the newline
	PRIMARY KEY (size, witness)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER cosignatures_no_update BEFORE UPDATE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures are immutable'); END;
CREATE TRIGGER cosignatures_no_delete BEFORE DELETE ON cosignatures
BEGIN SELECT RAISE(ABORT, 'cosignatures are immutable'); END;
-- INSERT OR REPLACE deletes without firing DELETE triggers.
CREATE TRIGGER cosignatures_no_replace BEFORE INSERT ON cosignatures
WHEN EXISTS (SELECT 1 FROM cosignatures WHERE size = NEW.size AND witness = NEW.witness)
BEGIN SELECT RAISE(ABORT, 'cosignatures are immutable'); END;
