package stream_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

func TestSyslogFrame(t *testing.T) {
	raw := []byte(`{"id":"evt_1","seq":7,"action":"service.update"}`)
	e := auditlog.Entry{Action: "service.update", Outcome: auditlog.Success, Canonical: raw,
		OccurredAt: time.Date(2026, 11, 25, 9, 0, 0, 123456789, time.FixedZone("", -3*3600))}
	got, err := stream.SyslogFrame(nil, "audit 1\x00", &e)
	if err != nil {
		t.Fatal(err)
	}
	msg := `<109>1 2026-11-25T09:00:00.123456-03:00 audit1 auditlog - service.update - ` + string(raw)
	if want := fmt.Sprintf("%d %s", len(msg), msg); string(got) != want {
		t.Fatalf("frame\n%s\nwant\n%s", got, want)
	}
	e.Outcome, e.Action = auditlog.Failed, "a_very_long_resource_name.sub_resource.update"
	e.OccurredAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	got, _ = stream.SyslogFrame([]byte("prefix|"), "", &e)
	msg = `<108>1 2026-11-25T12:00:00Z - auditlog - a_very_long_resource_name.sub_re - ` + string(raw)
	if want := fmt.Sprintf("prefix|%d %s", len(msg), msg); string(got) != want {
		t.Fatalf("frame\n%s\nwant\n%s", got, want)
	}
}

// TestSyslogSenderTLS delivers over TLS to a strict octet-counting collector,
// and keeps delivering after the collector drops the connection.
func TestSyslogSenderTLS(t *testing.T) {
	s := openLog(t)
	entries := write(t, storetest.Writer(t, s), "usr_ana", "", 40)
	rcv := streamtest.NewSyslogReceiver(t, true)
	snd, err := stream.NewSender(stream.Destination{ID: "str_l", Type: stream.Syslog, URL: rcv.URL()}, nil,
		stream.SenderOptions{AllowPrivate: true, RootCAs: rcv.RootCAs(), Hostname: "audit-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	ctx := context.Background()
	if err := snd.Send(ctx, entries[:20]); err != nil {
		t.Fatal(err)
	}
	rcv.WaitMessages(t, 20, 10*time.Second)
	rcv.DropConnections()
	// The next send notices the closed connection and dials again; like the
	// runner, retry a failed send.
	deadline := time.Now().Add(10 * time.Second)
	for err := snd.Send(ctx, entries[20:]); err != nil; err = snd.Send(ctx, entries[20:]) {
		if time.Now().After(deadline) {
			t.Fatalf("send after the collector dropped the connection: %v", err)
		}
	}
	msgs := rcv.WaitMessages(t, 40, 10*time.Second)
	seen := map[string]bool{}
	for _, m := range msgs {
		i := strings.Index(m, " - {")
		if i < 0 || !strings.HasPrefix(m, "<109>1 ") && !strings.HasPrefix(m, "<108>1 ") || !strings.Contains(m, " audit-1 auditlog - service.update - ") {
			t.Fatalf("not our RFC 5424 message: %q", m)
		}
		seen[m[i+3:]] = true
	}
	for _, e := range entries {
		if !seen[string(e.Canonical)] {
			t.Fatalf("entry %d never arrived", e.Seq)
		}
	}
	if rcv.Connections() < 2 {
		t.Fatalf("%d connections, want a reconnect", rcv.Connections())
	}
}

// TestSyslogSenderRsyslog sends a burst straight to Debian's rsyslogd and
// reads back every message exactly once, byte for byte.
func TestSyslogSenderRsyslog(t *testing.T) {
	rs := streamtest.StartRsyslog(t)
	s := openLog(t)
	entries := write(t, storetest.Writer(t, s), "usr_ana", "", 1000)
	snd, err := stream.NewSender(stream.Destination{ID: "str_r", Type: stream.Syslog, URL: rs.URL()}, nil, stream.SenderOptions{AllowPrivate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	for i := 0; i < len(entries); i += 250 {
		if err := snd.Send(context.Background(), entries[i:i+250]); err != nil {
			t.Fatal(err)
		}
	}
	msgs := rs.WaitMessages(t, len(entries), 30*time.Second)
	if len(msgs) != len(entries) {
		t.Fatalf("%d messages for %d entries", len(msgs), len(entries))
	}
	for i, m := range msgs {
		if m != string(entries[i].Canonical) {
			t.Fatalf("message %d: %q, want %q", i, m, entries[i].Canonical)
		}
	}
}
