package postgres_test

import (
	"context"
	"testing"

	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
)

func TestStreams(t *testing.T) {
	storetest.Streams(t, func(t *testing.T) stream.Store {
		s, _ := MustOpen(t)
		return s
	})
}

// Two servers on one database, each with its own pool, race for the leases.
func TestStreamClaimRaceBetweenServers(t *testing.T) {
	a, dsn := MustOpen(t)
	b, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.ClaimRace(t, a, b, 100)
}

// `auditlog serve` as the runtime role Init grants can do everything streams
// need, and still cannot change or remove entries or truncate streams.
func TestStreamsAsRuntimeRole(t *testing.T) {
	storetest.Streams(t, func(t *testing.T) stream.Store {
		rs := newRoleSplit(t)
		s, err := postgres.Open(context.Background(), rs.runtimeDSN)
		if err != nil {
			t.Fatalf("open as the runtime role: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		runtime := connect(t, rs.runtimeDSN)
		for _, stmt := range []string{
			`UPDATE entries SET outcome = 'failed'`,
			`DELETE FROM entries`,
			`DELETE FROM entry_ids`,
			`TRUNCATE entries`,
			`TRUNCATE streams`,
			`DROP TABLE streams`,
			`ALTER TABLE streams DROP CONSTRAINT streams_status_check`,
		} {
			expectRefused(t, runtime.PgConn(), stmt, "42501", "permission denied", "must be owner")
		}
		return s
	})
}
