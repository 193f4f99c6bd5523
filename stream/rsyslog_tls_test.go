package stream_test

import (
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

// TestRsyslogTLS delivers over tls:// to Debian's rsyslogd behind its GnuTLS
// driver: every entry arrives once, in seq order, as its canonical bytes.
func TestRsyslogTLS(t *testing.T) {
	t.Parallel()
	rs := streamtest.StartRsyslogTLS(t)
	s := openLog(t)
	w := storetest.Writer(t, s)
	d := destination(t, s, "usr_ana", "", stream.Syslog, rs.URL(), nil)
	startRunner(t, s, func(c *stream.RunnerConfig) {
		c.BatchSize = 500
		c.Senders.RootCAs = rs.RootCAs()
	})
	var entries []auditlog.Entry
	entries = append(entries, write(t, w, "usr_ana", "", 2000)...)
	last := entries[len(entries)-1].Seq
	waitStream(t, s, d.ID, 60*time.Second, "every entry delivered", func(d stream.Destination) bool { return d.Position == last })
	msgs := rs.WaitMessages(t, len(entries), 30*time.Second)
	if len(msgs) != len(entries) {
		t.Fatalf("rsyslog got %d messages for %d entries", len(msgs), len(entries))
	}
	for i, m := range msgs {
		if m != string(entries[i].Canonical) {
			t.Fatalf("message %d is not entry %d's canonical bytes: %.200s", i, entries[i].Seq, m)
		}
	}
}
