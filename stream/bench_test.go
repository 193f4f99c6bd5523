package stream_test

import (
	"context"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

// benchEntries is the log each delivery benchmark sends, whole, per iteration.
const benchEntries = 10000

// BenchmarkDelivery measures delivery from a SQLite log of 10,000 entries to
// each kind of receiver, in batches of 500: a fresh destination at the log's
// beginning per iteration, timed until its position reaches the end. The
// "follow" case is the engine's raw ceiling in the same run: reading the same
// batches with Follow and sending nothing.
func BenchmarkDelivery(b *testing.B) {
	s := openLog(b)
	entries := write(b, storetest.Writer(b, s), "usr_ana", "", benchEntries)
	last := entries[len(entries)-1].Seq
	report := func(b *testing.B) {
		per := b.Elapsed() / time.Duration(b.N*benchEntries)
		b.ReportMetric(float64(per.Nanoseconds()), "ns/entry")
		b.ReportMetric(float64(time.Second)/float64(per), "entries/s")
	}
	b.Run("follow", func(b *testing.B) {
		for b.Loop() {
			after := int64(-1)
			for after < last {
				_, through, err := s.Follow(context.Background(), auditlog.UserScope("usr_ana"), auditlog.Filter{}, after, 500)
				if err != nil {
					b.Fatal(err)
				}
				after = through
			}
		}
		report(b)
	})
	secret := []byte("whsec_bench")
	for _, c := range []struct {
		name, typ string
		url       func(b *testing.B) (string, stream.SenderOptions)
		cred      []byte
	}{
		{"syslog", stream.Syslog, func(b *testing.B) (string, stream.SenderOptions) {
			r := streamtest.NewSyslogReceiver(b, false)
			return r.URL(), stream.SenderOptions{AllowPrivate: true}
		}, nil},
		{"rsyslog", stream.Syslog, func(b *testing.B) (string, stream.SenderOptions) {
			return streamtest.StartRsyslog(b).URL(), stream.SenderOptions{AllowPrivate: true}
		}, nil},
		{"webhook", stream.Webhook, func(b *testing.B) (string, stream.SenderOptions) {
			r := streamtest.NewWebhookReceiver(b, secret)
			return r.URL(), stream.SenderOptions{AllowPrivate: true, RootCAs: r.RootCAs()}
		}, secret},
	} {
		b.Run(c.name, func(b *testing.B) {
			url, opts := c.url(b)
			r := startRunnerB(b, s, opts)
			for b.Loop() {
				d := destination(b, s, "usr_ana", "", c.typ, url, c.cred)
				r.Refresh()
				for {
					got, err := s.Stream(context.Background(), d.ID)
					if err != nil {
						b.Fatal(err)
					}
					if got.Position == last {
						break
					}
					if got.LastError != "" {
						b.Fatalf("delivery failed: %s", got.LastError)
					}
					time.Sleep(time.Millisecond)
				}
				if err := s.DeleteStream(context.Background(), d.ID); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}

// startRunnerB runs a runner over s with batches of 500 until the benchmark ends.
func startRunnerB(b *testing.B, s interface {
	stream.Store
	stream.Source
}, opts stream.SenderOptions) *stream.Runner {
	sealer, _ := stream.NewSealer(sealKey)
	r, err := stream.NewRunner(stream.RunnerConfig{Store: s, Source: s, Sealer: sealer, Senders: opts, BatchSize: 500,
		Poll: 10 * time.Millisecond, Lease: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	return r
}
