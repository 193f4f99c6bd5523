// Package postgres stores the audit log in PostgreSQL (15+; 13 is the
// floor) through pgx, behaving like the SQLite store as seen through the API:
// both pass the storetest conformance suite.
//
// Seq. One row, log_state, holds the next seq. Every group commit runs in
// one transaction that starts with SELECT ... FOR UPDATE on that row, so
// commits from any number of servers on one database are serialised: seqs
// are dense and never reused. Ids (and seqs) are unique in entry_ids, the
// table idempotent resends and reads by id start from; new rows are written
// with COPY. A trigger keeps next_seq from ever going back.
//
// Partitions. Entries are range-partitioned by the UTC month of occurred_us
// (unix microseconds). Open makes the partitions from last month to three
// months ahead; a commit whose events fall in a month without one makes it
// first, in its own short transaction, outside the commit's lock. Months
// outside 2000..2099 share two catch-all partitions, which bounds the number
// of partitions a writer can cause; there is no DEFAULT partition, because
// carving a month out of one would mean moving immutable rows. Partitions
// are made by a SECURITY DEFINER function owned by the schema owner, which
// the runtime role may only EXECUTE.
//
// Tamper evidence. The log_state row also holds the RFC 6962 Merkle tree
// over every entry's canonical bytes in seq order, as a compact range
// (tree_size, tree_frontier, tree_root). The commit that assigns seqs, under
// the same lock, extends it, writes the tiles it changes into tiles (C2SP
// tlog-tiles of height 8: the hashes of tree levels 0, 8, 16, ..., 256 to a
// row, from which proofs are computed and GET /tile/ serves), and refuses to commit when
// the tree does not cover the log (rows written around the sequencer). A
// trigger keeps the tree moving forward with next_seq, never on its own.
// Signed checkpoints are kept in checkpoints, whose sizes only grow;
// AddCheckpoint takes the log-state lock, so servers sharing a database
// never store two checkpoints out of order. A database from before the tree
// (schema version 1) gets it at Open: the entries are added in batches, by
// whichever role opens it.
//
// Roles and immutability. Triggers refuse UPDATE, DELETE and TRUNCATE on
// entries (every partition), entry_ids and checkpoints, for every role
// including the owner, and on tiles DELETE, TRUNCATE and any UPDATE but
// appending hashes to a partial tile. Init (`auditlog db init`) grants the
// runtime role SELECT and INSERT there (and UPDATE of tiles' hashes) and nothing more. The owner can still drop or detach a partition or
// disable a trigger: that is DDL, for the owner only, and what the
// tamper-evidence (Merkle) work makes detectable.
//
// Operations. Pool size, statement and connect timeouts come from options
// or the DSN (pool_max_conns, statement_timeout, connect_timeout); Ping fails
// while the database is unreachable, and pgxpool reconnects on its own. A
// commit that fails returns an error, so nothing unacknowledged is claimed.
package postgres
