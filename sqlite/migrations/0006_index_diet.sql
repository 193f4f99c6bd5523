-- Index diet (issue 10, evidence in docs/INDEXES.md). One wide keyset index
-- answers a user's reads: it walks the user's entries newest first and tests
-- the low-cardinality filters (action and family, resource type, outcome,
-- project) on the index entry, reading the table row only for a match. It
-- replaces the plain keyset index and four per-filter ones. resource_id keeps
-- its own index: ids are many, so a rare one would otherwise mean walking all
-- of a heavy user's entries.
CREATE INDEX entries_actor_keyset ON entries (actor_id, occurred_us DESC, id DESC, action, resource_type, outcome, project_id);
DROP INDEX entries_actor;
DROP INDEX entries_actor_action;
DROP INDEX entries_actor_type;
DROP INDEX entries_actor_outcome;
DROP INDEX entries_actor_project;
-- The admin trail likewise tests its filters in the index.
CREATE INDEX entries_project_keyset ON entries (project_id, occurred_us DESC, id DESC, action, resource_type, outcome, actor_id) WHERE project_id IS NOT NULL;
DROP INDEX entries_project;
