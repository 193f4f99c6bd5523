-- Witness cosignatures (issue 13): the C2SP tlog-cosignature lines witnesses
-- returned for our checkpoints, one per witness and checkpoint size, each
-- verified with the witness's key before it is stored. Served appended to the
-- checkpoint of that size; never changed.
CREATE TABLE cosignatures (
	size    bigint NOT NULL, -- the checkpoint's tree size
	witness text   NOT NULL, -- the witness's key name (from its operator-configured verifier key)
	line    text   NOT NULL, -- the signature line, "— <name> <base64>", without the newline
	UNIQUE (size, witness)
);
-- INSERT ... ON CONFLICT DO UPDATE fires the UPDATE trigger too.
CREATE TRIGGER cosignatures_immutable BEFORE UPDATE OR DELETE ON cosignatures
	FOR EACH ROW EXECUTE FUNCTION auditlog_refuse_change();
CREATE TRIGGER cosignatures_no_truncate BEFORE TRUNCATE ON cosignatures
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
