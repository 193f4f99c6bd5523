-- Index diet (issue 10, evidence in docs/INDEXES.md). One wide keyset index
-- answers a user's reads: it walks the user's entries newest first, and the
-- equality filters on its later columns (action, resource_type, outcome,
-- project_id) are index conditions, checked on the index entry before the
-- row is read. It replaces the plain keyset index and four per-filter ones.
-- resource_id keeps its own index: ids are many, so a rare one would
-- otherwise mean walking all of a heavy user's entries. The admin trail's
-- index gets the same treatment. entries_seq (leaf lookups, ScanLog, the
-- head), the BRIN index (a few pages), entries_actor_seq and
-- entries_project_seq (export and follow walk in seq order, which no
-- keyset index gives) stay, as does entry_ids (unique ids across partitions).
-- Like every index on the partitioned table, these are built on every
-- partition, present and future; on a large log the build takes minutes and
-- holds writes meanwhile (CONCURRENTLY is not possible on a partitioned table).
CREATE INDEX entries_actor_keyset ON entries (actor_id, occurred_us DESC, id DESC, action, resource_type, outcome, project_id);
DROP INDEX entries_actor;
DROP INDEX entries_actor_action;
DROP INDEX entries_actor_type;
DROP INDEX entries_actor_outcome;
DROP INDEX entries_actor_project;
CREATE INDEX entries_project_keyset ON entries (project_id, occurred_us DESC, id DESC, action, resource_type, outcome, actor_id) WHERE project_id IS NOT NULL;
DROP INDEX entries_project;
