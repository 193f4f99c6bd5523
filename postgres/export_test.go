package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// ScramVerifierWith exposes the SCRAM verifier computation to the tests.
var ScramVerifierWith = scramVerifierWith

// PoolOf exposes a store's pool to the tests.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }

// SetBackfillBatch sets how many entries one backfill step adds, until the test ends.
func SetBackfillBatch(tb interface{ Cleanup(func()) }, n int) {
	old := backfillBatch
	backfillBatch = n
	tb.Cleanup(func() { backfillBatch = old })
}
