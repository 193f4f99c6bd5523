-- Following a project's admin trail (auditlog tail --trail) walks the
-- project's entries in seq order from the last one read.
CREATE INDEX entries_project_seq ON entries (project_id, seq) WHERE project_id IS NOT NULL;
