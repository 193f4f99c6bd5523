-- Cluster mode: the shard's position in its JetStream stream. One row:
-- the fence epoch of the sequencer allowed to commit (the revision of its
-- lease) and the last stream sequence applied, advanced in the same
-- transaction as each group commit, so a new leader resumes from
-- applied_seq + 1 and nothing is applied twice. Both only grow; the runtime
-- role may UPDATE this row (granted by postgres.Init, see roles.go).
CREATE TABLE cluster_position (
	id          smallint PRIMARY KEY CHECK (id = 1),
	epoch       bigint   NOT NULL CHECK (epoch >= 0),
	applied_seq bigint   NOT NULL CHECK (applied_seq >= 0)
);
INSERT INTO cluster_position (id, epoch, applied_seq) VALUES (1, 0, 0);

CREATE FUNCTION auditlog_cluster_position_forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR NEW.epoch < OLD.epoch OR NEW.applied_seq < OLD.applied_seq OR NEW.id <> OLD.id THEN
		RAISE EXCEPTION 'the cluster position only moves forward: % on cluster_position refused', TG_OP
			USING ERRCODE = 'raise_exception';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER cluster_position_forward BEFORE UPDATE OR DELETE ON cluster_position
	FOR EACH ROW EXECUTE FUNCTION auditlog_cluster_position_forward();
CREATE TRIGGER cluster_position_no_truncate BEFORE TRUNCATE ON cluster_position
	FOR EACH STATEMENT EXECUTE FUNCTION auditlog_refuse_change();
