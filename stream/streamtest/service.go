package streamtest

import (
	"context"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/stream"
)

// Log is what a test's stream service runs over: the destinations, the
// project owners and the tree head of one store (either engine).
type Log interface {
	stream.Store
	stream.Owners
	TreeHead(ctx context.Context) (integrity.Head, error)
}

// NewService returns a stream service over log, recording its changes
// through rec, with a fixed sealing key; allowPrivate lets destinations be
// on loopback (the tests' receivers).
func NewService(t testing.TB, log Log, rec stream.Recorder, now func() time.Time, allowPrivate bool) *stream.Service {
	t.Helper()
	sealer, err := stream.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := stream.NewService(stream.ServiceConfig{
		Store: log, Sealer: sealer, Owners: log, Recorder: rec, AllowPrivate: allowPrivate, Now: now,
		Senders: stream.SenderOptions{AllowPrivate: allowPrivate},
		Head: func(ctx context.Context, _ string) (int64, error) {
			h, err := log.TreeHead(ctx)
			return int64(h.Size), err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}
