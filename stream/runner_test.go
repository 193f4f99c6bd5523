package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
	"github.com/prometheus/client_golang/prometheus"
)

var sealKey = bytes.Repeat([]byte{42}, 32)

var streamN atomic.Int64

// destination stores an active destination for owner delivering to url, its
// credential sealed, and returns it.
func destination(t testing.TB, s *sqlite.Store, owner, project, typ, url string, credential []byte) stream.Destination {
	t.Helper()
	sealer, _ := stream.NewSealer(sealKey)
	now := time.Now().UTC().Truncate(time.Microsecond)
	d := stream.Destination{ID: fmt.Sprintf("str_%026d", streamN.Add(1)), OwnerID: owner, Scope: stream.ScopeMe,
		Type: typ, URL: url, Status: stream.Active, Position: -1, CreatedAt: now, UpdatedAt: now, Version: 1}
	if project != "" {
		d.Scope, d.ProjectID = stream.ScopeProject, project
	}
	if credential != nil {
		var err error
		if d.Credential, err = sealer.Seal(d.ID, credential); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.CreateStream(context.Background(), d); err != nil {
		t.Fatal(err)
	}
	return d
}

// running is a started Runner and how to stop it.
type running struct {
	*stream.Runner
	stop func()
}

// startRunner runs a Runner over s until the test ends or stop is called.
func startRunner(t *testing.T, s *sqlite.Store, edit func(*stream.RunnerConfig)) running {
	t.Helper()
	sealer, _ := stream.NewSealer(sealKey)
	cfg := stream.RunnerConfig{
		Store: s, Source: s, Sealer: sealer, Senders: stream.SenderOptions{AllowPrivate: true, Hostname: "audit-1"},
		BatchSize: 100, MinBackoff: 20 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxFailures: 10000,
		Poll: 50 * time.Millisecond, Lease: 600 * time.Millisecond, Head: head(s),
	}
	if edit != nil {
		edit(&cfg)
	}
	r, err := stream.NewRunner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var stopped atomic.Bool
	stop := func() {
		if stopped.Swap(true) {
			return
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	t.Cleanup(stop)
	return running{r, stop}
}

// head returns the log's size, read as the seq a follow of nobody's entries reaches.
func head(s *sqlite.Store) func(context.Context) (int64, error) {
	return func(ctx context.Context) (int64, error) {
		_, through, err := s.Follow(ctx, auditlog.UserScope("usr_nobody"), auditlog.Filter{}, -1, 1)
		return through + 1, err
	}
}

// waitStream waits until the stored destination satisfies ok.
func waitStream(t *testing.T, s *sqlite.Store, id string, timeout time.Duration, what string, ok func(stream.Destination) bool) stream.Destination {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		d, err := s.Stream(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if ok(d) {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v the destination is %+v; want %s", timeout, d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// inOrder checks a delivery: entries arrive in seq order with no gaps; an
// entry may arrive again only after it was delivered (a retried batch), so
// it compares the first arrival of each entry with want. It returns how many
// arrivals were repeats.
func inOrder(t *testing.T, got []json.RawMessage, want []auditlog.Entry) int {
	t.Helper()
	seen := map[string]bool{}
	next, repeats := 0, 0
	for i, raw := range got {
		e, err := auditlog.DecodeEntry(raw)
		if err != nil {
			t.Fatalf("arrival %d: %v", i, err)
		}
		if seen[e.ID] {
			repeats++
			continue
		}
		if next >= len(want) || !bytes.Equal(raw, want[next].Canonical) {
			w := "nothing more"
			if next < len(want) {
				w = fmt.Sprintf("seq %d", want[next].Seq)
			}
			t.Fatalf("arrival %d is seq %d, want %s (out of order, a gap, or not the stream's)", i, e.Seq, w)
		}
		seen[e.ID] = true
		next++
	}
	if next != len(want) {
		t.Fatalf("%d of %d entries arrived", next, len(want))
	}
	return repeats
}

// TestRsyslogBurst streams a 10,000-entry burst to Debian's rsyslogd and
// finds every entry exactly once, in RFC 5424 with its canonical JSON as the
// message, in seq order.
func TestRsyslogBurst(t *testing.T) {
	t.Parallel()
	rs := streamtest.StartRsyslog(t)
	s := openLog(t)
	w := storetest.Writer(t, s)
	d := destination(t, s, "usr_ana", "", stream.Syslog, rs.URL(), nil)
	r := startRunner(t, s, func(c *stream.RunnerConfig) { c.BatchSize = 500 })
	var entries []auditlog.Entry
	for range 20 {
		entries = append(entries, write(t, w, "usr_ana", "", 500)...)
		r.Wake()
	}
	last := entries[len(entries)-1].Seq
	waitStream(t, s, d.ID, 60*time.Second, "every entry delivered", func(d stream.Destination) bool { return d.Position == last })
	msgs := rs.WaitMessages(t, len(entries), 30*time.Second)
	if len(msgs) != len(entries) {
		t.Fatalf("rsyslog got %d messages for %d entries", len(msgs), len(entries))
	}
	ids := map[string]bool{}
	for i, m := range msgs {
		if m != string(entries[i].Canonical) {
			t.Fatalf("message %d is not entry %d's canonical bytes: %.200s", i, entries[i].Seq, m)
		}
		ids[entries[i].ID] = true
	}
	if len(ids) != len(entries) {
		t.Fatalf("%d distinct ids for %d entries", len(ids), len(entries))
	}
}

// outage is how long the receiver fails in TestReceiverOutage: 30s in CI or
// AUDITLOG_STREAM_OUTAGE (a duration), 3s otherwise.
func outage(t *testing.T) time.Duration {
	if v := os.Getenv("AUDITLOG_STREAM_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("AUDITLOG_STREAM_OUTAGE: %v", err)
		}
		return d
	}
	if os.Getenv("CI") == "true" {
		return 30 * time.Second
	}
	return 3 * time.Second
}

// TestReceiverOutage has a signature-checking webhook receiver fail for a
// while (30s in CI) as entries keep coming; once it recovers it has every
// entry, in order, with no gaps, and the destination shows the failure meanwhile.
func TestReceiverOutage(t *testing.T) {
	t.Parallel() // mostly waiting out the outage
	s := openLog(t)
	w := storetest.Writer(t, s)
	secret := []byte("whsec_outage")
	rcv := streamtest.NewWebhookReceiver(t, secret)
	reg := prometheus.NewRegistry()
	r := startRunner(t, s, func(c *stream.RunnerConfig) {
		c.Senders.RootCAs = rcv.RootCAs()
		c.Registry = reg
		c.MaxBackoff = 2 * time.Second
	})
	d := destination(t, s, "usr_ana", "", stream.Webhook, rcv.URL(), secret)
	r.Refresh()
	want := write(t, w, "usr_ana", "", 300)
	r.Wake()
	rcv.WaitEntries(t, 300, 20*time.Second)

	down := outage(t)
	until := time.Now().Add(down)
	rcv.FailFor(down)
	want = append(want, write(t, w, "usr_ana", "", 50)...)
	r.Wake()
	failed := waitStream(t, s, d.ID, down, "failures recorded during the outage", func(d stream.Destination) bool { return d.Failures > 0 })
	if failed.LastError != "webhook: the receiver answered 503" || failed.Status != stream.Active {
		t.Fatalf("during the outage: %+v", failed)
	}
	for time.Now().Before(until) {
		want = append(want, write(t, w, "usr_ana", "", 50)...)
		r.Wake()
		time.Sleep(down / 10)
	}
	last := want[len(want)-1].Seq
	after := waitStream(t, s, d.ID, down+30*time.Second, "caught up", func(d stream.Destination) bool { return d.Position == last })
	if after.Failures != 0 || after.LastError != "" || after.Status != stream.Active {
		t.Fatalf("after the outage: %+v", after)
	}
	inOrder(t, rcv.Entries(), want)
	if _, refused, _ := rcv.Stats(); refused == 0 {
		t.Fatal("the receiver never failed a request")
	}
	if n := metric(t, reg, "auditlog_stream_failures_total", "webhook"); n == 0 {
		t.Fatal("no failure counted")
	}
	if n := metric(t, reg, "auditlog_stream_entries_delivered_total", "webhook"); n < float64(len(want)) {
		t.Fatalf("%v entries counted, want at least %d", n, len(want))
	}
}

// metric sums the series of a metric whose label values include label.
func metric(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetValue() == label {
					sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
				}
			}
		}
	}
	return sum
}

// waitMetric waits until metric(name, label) is want.
func waitMetric(t *testing.T, reg *prometheus.Registry, name, label string, want float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := metric(t, reg, name, label)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s} is %v, want %v", name, label, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRestartLosesNothing stops a runner mid-stream and starts another (on
// another node name) over the same store: the receiver gets everything.
func TestRestartLosesNothing(t *testing.T) {
	t.Parallel()
	s := openLog(t)
	w := storetest.Writer(t, s)
	secret := []byte("whsec_restart")
	rcv := streamtest.NewWebhookReceiver(t, secret)
	d := destination(t, s, "usr_ana", "", stream.Webhook, rcv.URL(), secret)
	want := write(t, w, "usr_ana", "", 1500)
	edit := func(c *stream.RunnerConfig) { c.Senders.RootCAs = rcv.RootCAs(); c.BatchSize = 100 }
	first := startRunner(t, s, func(c *stream.RunnerConfig) { edit(c); c.Node = "node-a" })
	rcv.WaitEntries(t, 300, 30*time.Second)
	first.stop()
	stopped, err := s.Stream(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stopped.Position >= want[len(want)-1].Seq {
		t.Fatalf("the first runner delivered everything before it was stopped (position %d)", stopped.Position)
	}
	second := startRunner(t, s, func(c *stream.RunnerConfig) { edit(c); c.Node = "node-b" })
	want = append(want, write(t, w, "usr_ana", "", 200)...)
	second.Wake()
	last := want[len(want)-1].Seq
	waitStream(t, s, d.ID, 60*time.Second, "caught up", func(d stream.Destination) bool { return d.Position == last })
	inOrder(t, rcv.Entries(), want)
}

// TestPrivacy writes two users' entries, some in a project one of them owns,
// and checks that each stream carries exactly its owner's scope: a user's own
// entries, or the admin trail of a project they own.
func TestPrivacy(t *testing.T) {
	t.Parallel()
	s := openLog(t)
	w := storetest.Writer(t, s)
	ctx := context.Background()
	if err := s.SetProjectOwner(ctx, "prj_web", "usr_ana"); err != nil {
		t.Fatal(err)
	}
	hook := streamtest.NewWebhookReceiver(t, []byte("ana"))
	hec := streamtest.NewSplunkReceiver(t, "hec-token")
	sys := streamtest.NewSyslogReceiver(t, true)
	me := destination(t, s, "usr_ana", "", stream.Webhook, hook.URL(), []byte("ana"))
	trail := destination(t, s, "usr_ana", "prj_web", stream.SplunkHEC, hec.URL()+"/services/collector/event", []byte("hec-token"))
	bruno := destination(t, s, "usr_bruno", "", stream.Syslog, sys.URL(), nil)
	reg := prometheus.NewRegistry()
	r := startRunner(t, s, func(c *stream.RunnerConfig) {
		c.Senders.RootCAs = hook.RootCAs() // httptest's certificate, shared by every receiver here
		c.Registry = reg
	})
	var all []auditlog.Entry
	for range 5 {
		all = append(all, write(t, w, "usr_ana", "", 40)...)
		all = append(all, write(t, w, "usr_bruno", "prj_web", 30)...) // in ana's trail, not in her own stream
		all = append(all, write(t, w, "usr_bruno", "prj_api", 20)...)
		all = append(all, write(t, w, "usr_ana", "prj_web", 10)...)
		r.Wake()
	}
	last := all[len(all)-1].Seq
	for _, d := range []stream.Destination{me, trail, bruno} {
		waitStream(t, s, d.ID, 30*time.Second, "caught up", func(d stream.Destination) bool { return d.Position == last })
	}
	pick := func(keep func(e auditlog.Entry) bool) []auditlog.Entry {
		var out []auditlog.Entry
		for _, e := range all {
			if keep(e) {
				out = append(out, e)
			}
		}
		return out
	}
	inOrder(t, hook.Entries(), pick(func(e auditlog.Entry) bool { return e.ActorID == "usr_ana" }))
	inOrder(t, hec.Entries(), pick(func(e auditlog.Entry) bool { return e.ProjectID != nil && *e.ProjectID == "prj_web" }))
	var msgs []json.RawMessage
	for _, m := range sys.Messages() {
		msgs = append(msgs, json.RawMessage(m[strings.Index(m, " - {")+3:]))
	}
	inOrder(t, msgs, pick(func(e auditlog.Entry) bool { return e.ActorID == "usr_bruno" }))

	if n := metric(t, reg, "auditlog_stream_destinations", stream.Active); n != 3 {
		t.Fatalf("%v active destinations counted, want 3", n)
	}
	for _, typ := range []string{stream.Webhook, stream.SplunkHEC, stream.Syslog} {
		if n := metric(t, reg, "auditlog_stream_deliveries_total", typ); n == 0 {
			t.Fatalf("no %s delivery counted", typ)
		}
	}
}

// TestPauseResumeReplay has a destination fail until it is paused, then
// resumes it and replays it from an earlier seq.
func TestPauseResumeReplay(t *testing.T) {
	s := openLog(t)
	w := storetest.Writer(t, s)
	ctx := context.Background()
	rcv := streamtest.NewWebhookReceiver(t, []byte("k"))
	rcv.SetFailing(true)
	reg := prometheus.NewRegistry()
	r := startRunner(t, s, func(c *stream.RunnerConfig) {
		c.Senders.RootCAs = rcv.RootCAs()
		c.Registry = reg
		c.MaxFailures, c.MinBackoff, c.MaxBackoff = 3, time.Millisecond, 5*time.Millisecond
	})
	want := write(t, w, "usr_ana", "", 30)
	d := destination(t, s, "usr_ana", "", stream.Webhook, rcv.URL(), []byte("k"))
	r.Refresh()
	paused := waitStream(t, s, d.ID, 20*time.Second, "paused", func(d stream.Destination) bool { return d.Status == stream.Paused })
	if paused.Failures != 3 || paused.LastError != "webhook: the receiver answered 503" || paused.Position != -1 {
		t.Fatalf("paused as %+v", paused)
	}
	if n, _, _ := rcv.Stats(); n != 3 {
		t.Fatalf("%d attempts before the pause, want 3", n)
	}
	// A paused destination's lag shows: every entry is behind it.
	waitMetric(t, reg, "auditlog_stream_lag_seqs", stream.Webhook, float64(want[len(want)-1].Seq+1))
	waitMetric(t, reg, "auditlog_stream_destinations", stream.Paused, 1)

	rcv.SetFailing(false)
	paused.Status, paused.Failures, paused.LastError = stream.Active, 0, ""
	if _, err := s.UpdateStream(ctx, paused); err != nil {
		t.Fatal(err)
	}
	r.Refresh()
	last := want[len(want)-1].Seq
	waitStream(t, s, d.ID, 20*time.Second, "caught up after the resume", func(d stream.Destination) bool { return d.Position == last })
	inOrder(t, rcv.Entries(), want)
	waitMetric(t, reg, "auditlog_stream_lag_seqs", stream.Webhook, 0)
	waitMetric(t, reg, "auditlog_stream_destinations", stream.Active, 1)

	cur, err := s.Stream(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.Position = want[19].Seq // replay the last ten
	if _, err := s.UpdateStream(ctx, cur); err != nil {
		t.Fatal(err)
	}
	r.Refresh()
	got := rcv.WaitEntries(t, 40, 20*time.Second)
	if !slices.EqualFunc(got[30:], want[20:], func(a json.RawMessage, b auditlog.Entry) bool { return bytes.Equal(a, b.Canonical) }) {
		t.Fatalf("the replay delivered %d entries, not the last ten in order", len(got)-30)
	}
}

// TestProjectOwnerLost pauses a project stream whose owner no longer owns the project.
func TestProjectOwnerLost(t *testing.T) {
	s := openLog(t)
	ctx := context.Background()
	if err := s.SetProjectOwner(ctx, "prj_web", "usr_bruno"); err != nil {
		t.Fatal(err)
	}
	write(t, storetest.Writer(t, s), "usr_bruno", "prj_web", 5)
	rcv := streamtest.NewWebhookReceiver(t, []byte("k"))
	d := destination(t, s, "usr_ana", "prj_web", stream.Webhook, rcv.URL(), []byte("k"))
	startRunner(t, s, func(c *stream.RunnerConfig) { c.Senders.RootCAs = rcv.RootCAs() })
	got := waitStream(t, s, d.ID, 20*time.Second, "paused", func(d stream.Destination) bool { return d.Status == stream.Paused })
	if got.LastError != "the stream's owner no longer owns its project" || got.Position != -1 {
		t.Fatalf("paused as %+v", got)
	}
	if n, _, _ := rcv.Stats(); n != 0 {
		t.Fatalf("the receiver got %d requests", n)
	}
}

// TestDeletedStreamStops deletes a destination while it is delivered; its
// worker stops and nothing more arrives.
func TestDeletedStreamStops(t *testing.T) {
	s := openLog(t)
	w := storetest.Writer(t, s)
	rcv := streamtest.NewWebhookReceiver(t, []byte("k"))
	d := destination(t, s, "usr_ana", "", stream.Webhook, rcv.URL(), []byte("k"))
	r := startRunner(t, s, func(c *stream.RunnerConfig) { c.Senders.RootCAs = rcv.RootCAs() })
	write(t, w, "usr_ana", "", 10)
	r.Wake()
	rcv.WaitEntries(t, 10, 20*time.Second)
	if err := s.DeleteStream(context.Background(), d.ID); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Once Sync returns, the deleted one's receiver gets nothing more, while
	// another destination created after the delete is delivered.
	other := streamtest.NewWebhookReceiver(t, []byte("k2"))
	destination(t, s, "usr_ana", "", stream.Webhook, other.URL(), []byte("k2"))
	r.Refresh()
	write(t, w, "usr_ana", "", 5)
	r.Wake()
	other.WaitEntries(t, 15, 20*time.Second)
	if n := len(rcv.Entries()); n != 10 {
		t.Fatalf("the deleted destination's receiver got %d entries, want 10", n)
	}
}
