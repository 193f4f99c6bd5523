-- Following a project's admin trail (auditlog tail --trail) walks the
-- project's entries in seq order from the last one read. Like every index on
-- the partitioned table, it is made on every partition, present and future.
CREATE INDEX entries_project_seq ON entries (project_id, seq) WHERE project_id IS NOT NULL;
