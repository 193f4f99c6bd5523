package witness_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/syncbuf"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/witness"
	"github.com/guaracloud/auditlog/witness/witnesstest"
	"go.uber.org/goleak"
	"golang.org/x/mod/sumdb/note"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(pgMain{m}, goleak.IgnoreTopFunction("github.com/jackc/pgx/v5/pgxpool.(*Pool).backgroundHealthCheck"))
}

// pgMain runs the tests through pgtest.Main, which drops the template database.
type pgMain struct{ m *testing.M }

func (p pgMain) Run() int { pgtest.Main(p.m); return 0 }

// testStore is a log with cosignatures and the appender tests write through.
type testStore interface {
	witness.Store
	auditlog.Store
	integrity.Store
}

// openStore opens a fresh store of the engine.
func openStore(t *testing.T, engine string) testStore {
	t.Helper()
	ctx := context.Background()
	var s testStore
	var err error
	switch engine {
	case "sqlite":
		s, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	case "postgres":
		s, err = postgres.Open(ctx, pgtest.NewDatabase(t))
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// eventually polls cond until it holds or 20 s pass.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// submitting is a checkpointer whose new checkpoints a submitter sends to witnesses.
type submitting struct {
	ckpt    *integrity.Checkpointer
	sub     *witness.Submitter
	metrics *witness.Metrics
	log     *syncbuf.Buffer
}

func startSubmitting(t *testing.T, st testStore, key *integrity.Key, origin string, ws ...witness.Witness) *submitting {
	t.Helper()
	metrics, err := witness.NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	lb := &syncbuf.Buffer{}
	sub, err := witness.NewSubmitter(st, ws, witness.Options{Metrics: metrics, MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(lb, nil))})
	if err != nil {
		t.Fatal(err)
	}
	c := integrity.NewCheckpointer(st, key, origin, nil)
	c.OnSigned(sub.Signed)
	sub.Start()
	t.Cleanup(sub.Close)
	return &submitting{ckpt: c, sub: sub, metrics: metrics, log: lb}
}

// write appends n events of actor and signs a checkpoint.
func (s *submitting) write(t *testing.T, st testStore, actor string, n int) integrity.Checkpoint {
	t.Helper()
	w := storetest.Writer(t, st)
	r := rand.New(rand.NewPCG(uint64(n), 13))
	evs := make([]auditlog.Event, n)
	for i := range evs {
		evs[i] = storetest.RandomEvent(r, actor)
	}
	storetest.Must(t, w, evs...)
	cp, err := s.ckpt.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// cosigned waits until the witness's cosignature of cp is stored and
// returns cp's note with the stored cosignatures.
func cosigned(t *testing.T, st testStore, cp integrity.Checkpoint, w witness.Witness) []byte {
	t.Helper()
	ctx := context.Background()
	var msg []byte
	eventually(t, fmt.Sprintf("a cosignature of checkpoint %d", cp.Size), func() bool {
		c, err := witness.Cosigned(ctx, st, cp)
		if err != nil {
			t.Fatal(err)
		}
		msg = c.Note
		got, _ := witness.Count(msg, []note.Verifier{w.Verifier})
		return len(got) == 1
	})
	return msg
}

// startLitewitness runs a litewitness knowing a new key for origin.
func startLitewitness(t *testing.T, name, origin string) (witness.Witness, *integrity.Key, string) {
	t.Helper()
	lw := witnesstest.Start(t, name)
	w, err := witness.ParseWitness(lw.URL + "=" + lw.VKey)
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	lw.AddLog(t, origin, key.VerifierKey())
	return w, key, origin
}

// TestLitewitness submits checkpoints to a real litewitness on both engines:
// cosignatures are stored and verify with its key, the cosigned note still
// opens with only our key, and a forked log with the same origin and key is
// refused by the witness and alarmed.
func TestLitewitness(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			w, key, origin := startLitewitness(t, "witness.test/"+engine, integrity.OriginPrefix+"1170e55000000000")

			st := openStore(t, engine)
			s := startSubmitting(t, st, key, origin, w)
			cp1 := s.write(t, st, "usr_ana", 3)
			msg := cosigned(t, st, cp1, w)
			if _, _, err := integrity.OpenCheckpoint(msg, key.Verifier()); err != nil {
				t.Fatalf("the cosigned checkpoint does not open with our key alone: %v", err)
			}
			// The second checkpoint goes with a consistency proof from the first.
			cp2 := s.write(t, st, "usr_ana", 5)
			cosigned(t, st, cp2, w)
			if n := s.metrics.Failures(w.Name, witness.ReasonBadProof); n != 0 {
				t.Fatalf("bad_proof failures on an honest log: %v\n%s", n, s.log.String())
			}

			// A fork: same origin and key, another history, larger than
			// what the witness holds: the witness answers 409 (old 0), then
			// 422 to the proof from its size.
			fork := openStore(t, engine)
			f := startSubmitting(t, fork, key, origin, w)
			fcp := f.write(t, fork, "usr_mallory", int(cp2.Size)+4)
			eventually(t, "the fork to be alarmed", func() bool { return f.metrics.Failures(w.Name, witness.ReasonBadProof) >= 1 })
			logged := f.log.String()
			if !strings.Contains(logged, "level=ERROR") || !strings.Contains(logged, "reason=bad_proof") {
				t.Fatalf("the fork's refusal was not logged at error level:\n%s", logged)
			}
			lines, err := fork.Cosignatures(context.Background(), fcp.Size)
			if err != nil || len(lines) != 0 {
				t.Fatalf("the fork has cosignatures %q (%v)", lines, err)
			}
		})
	}
}

// TestLitewitnessForkBehind: a fork smaller than what the witness holds
// cannot even be proven; it is alarmed as witness_ahead.
func TestLitewitnessForkBehind(t *testing.T) {
	w, key, origin := startLitewitness(t, "witness.test/behind", integrity.OriginPrefix+"be41d00000000000")
	st := openStore(t, "sqlite")
	s := startSubmitting(t, st, key, origin, w)
	cosigned(t, st, s.write(t, st, "usr_ana", 6), w)

	fork := openStore(t, "sqlite")
	f := startSubmitting(t, fork, key, origin, w)
	f.write(t, fork, "usr_mallory", 2)
	eventually(t, "the fork to be alarmed", func() bool { return f.metrics.Failures(w.Name, witness.ReasonWitnessAhead) >= 1 })
	if !strings.Contains(f.log.String(), "level=ERROR") {
		t.Fatalf("not logged at error level:\n%s", f.log.String())
	}
}
