package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// ScramVerifierWith exposes the SCRAM verifier computation to the tests.
var ScramVerifierWith = scramVerifierWith

// PoolOf exposes a store's pool to the tests.
func PoolOf(s *Store) *pgxpool.Pool { return s.pool }
