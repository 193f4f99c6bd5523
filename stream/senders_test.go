package stream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/stream/streamtest"
)

// sameEntries fails unless got holds exactly the canonical bytes of want, in order.
func sameEntries(t *testing.T, got []json.RawMessage, want []auditlog.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i].Canonical) {
			t.Fatalf("entry %d: got %s, want the stored bytes %s", i, got[i], want[i].Canonical)
		}
	}
}

func TestWebhookSender(t *testing.T) {
	s := openLog(t)
	entries := write(t, storetest.Writer(t, s), "usr_ana", "", 30)
	secret := []byte("whsec_0123456789")
	rcv := streamtest.NewWebhookReceiver(t, secret)
	d := stream.Destination{ID: "str_a", Type: stream.Webhook, URL: rcv.URL() + "/hook"}
	snd, err := stream.NewSender(d, secret, stream.SenderOptions{AllowPrivate: true, RootCAs: rcv.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	ctx := context.Background()
	if err := snd.Send(ctx, entries[:10]); err != nil {
		t.Fatal(err)
	}
	if err := snd.Send(ctx, entries[10:]); err != nil {
		t.Fatal(err)
	}
	if b := rcv.Batches(); len(b) != 2 || len(b[0]) != 10 {
		t.Fatalf("batches %d", len(b))
	}
	sameEntries(t, rcv.Entries(), entries)

	t.Run("FailingReceiver", func(t *testing.T) {
		rcv.SetFailing(true)
		err := snd.Send(ctx, entries[:1])
		if err == nil || stream.Reason(err) != "webhook: the receiver answered 503" {
			t.Fatalf("got %v, want the receiver's 503", err)
		}
		rcv.SetFailing(false)
	})
	t.Run("WrongSecretIsRefused", func(t *testing.T) {
		other := streamtest.NewWebhookReceiver(t, []byte("another secret"))
		other.ExpectInvalid()
		snd, err := stream.NewSender(stream.Destination{ID: "str_b", Type: stream.Webhook, URL: other.URL()}, secret, stream.SenderOptions{AllowPrivate: true, RootCAs: other.RootCAs()})
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close()
		if err := snd.Send(ctx, entries[:1]); stream.Reason(err) != "webhook: the receiver answered 401" {
			t.Fatalf("got %v, want 401", err)
		}
		if _, _, invalid := other.Stats(); invalid != 1 {
			t.Fatalf("invalid %d", invalid)
		}
	})
	t.Run("RedirectIsNotFollowed", func(t *testing.T) {
		redirect := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, rcv.URL()+"/elsewhere", http.StatusTemporaryRedirect)
		}))
		defer redirect.Close()
		before := len(rcv.Batches())
		snd, err := stream.NewSender(stream.Destination{ID: "str_c", Type: stream.Webhook, URL: redirect.URL}, secret, stream.SenderOptions{AllowPrivate: true, RootCAs: rcv.RootCAs()})
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close()
		if err := snd.Send(ctx, entries[:1]); stream.Reason(err) != "webhook: the receiver answered 307" {
			t.Fatalf("got %v, want the 307 as a failure", err)
		}
		if len(rcv.Batches()) != before {
			t.Fatal("the redirect was followed")
		}
	})
	t.Run("UntrustedCertificate", func(t *testing.T) {
		snd, err := stream.NewSender(d, secret, stream.SenderOptions{AllowPrivate: true})
		if err != nil {
			t.Fatal(err)
		}
		defer snd.Close()
		if err := snd.Send(ctx, entries[:1]); stream.Reason(err) != "webhook: the TLS certificate is not trusted for this host" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"data":[]}`)
	now := time.Unix(1_800_000_000, 0)
	h := stream.Sign(secret, now, body)
	if !strings.HasPrefix(h, "t=1800000000,v1=") || len(h) != len("t=1800000000,v1=")+64 {
		t.Fatalf("header %q", h)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"OK", secret, h, body, now.Add(299 * time.Second), nil},
		{"RotatedSecretOK", secret, stream.Sign([]byte("old"), now, body) + "," + h[strings.Index(h, "v1="):], body, now, nil},
		{"ErrStale", secret, h, body, now.Add(301 * time.Second), stream.ErrSignatureStale},
		{"ErrFuture", secret, h, body, now.Add(-301 * time.Second), stream.ErrSignatureStale},
		{"ErrBody", secret, h, []byte(`{"data":[1]}`), now, stream.ErrSignature},
		{"ErrSecret", []byte("other"), h, body, now, stream.ErrSignature},
		{"ErrTimestampChanged", secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now, stream.ErrSignature},
		{"ErrNoV1", secret, "t=1800000000", body, now, stream.ErrSignatureFormat},
		{"ErrNoT", secret, h[strings.Index(h, "v1="):], body, now, stream.ErrSignatureFormat},
		{"ErrHex", secret, "t=1800000000,v1=zz", body, now, stream.ErrSignatureFormat},
		{"ErrEmpty", secret, "", body, now, stream.ErrSignatureFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := stream.VerifySignature(c.secret, c.header, c.body, c.now, 5*time.Minute); !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
		})
	}
}

func TestSplunkSender(t *testing.T) {
	s := openLog(t)
	entries := write(t, storetest.Writer(t, s), "usr_ana", "prj_web", 12)
	rcv := streamtest.NewSplunkReceiver(t, "0000-1111-2222")
	d := stream.Destination{ID: "str_s", Type: stream.SplunkHEC, URL: rcv.URL() + "/services/collector/event"}
	snd, err := stream.NewSender(d, []byte("0000-1111-2222"), stream.SenderOptions{AllowPrivate: true, RootCAs: rcv.RootCAs(), Hostname: "audit-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close()
	if err := snd.Send(context.Background(), entries); err != nil {
		t.Fatal(err)
	}
	sameEntries(t, rcv.Entries(), entries)

	body, err := stream.SplunkBody("audit-1", entries[:1])
	if err != nil {
		t.Fatal(err)
	}
	var ev streamtest.SplunkEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%d.000", storetest.Base.Unix()); ev.Time.String() != want || ev.Host != "audit-1" { // the first entry's time
		t.Fatalf("time %s host %q, want %s audit-1", ev.Time, ev.Host, want)
	}

	t.Run("ErrWrongToken", func(t *testing.T) {
		rcv.ExpectInvalid()
		bad, err := stream.NewSender(d, []byte("wrong"), stream.SenderOptions{AllowPrivate: true, RootCAs: rcv.RootCAs()})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		if err := bad.Send(context.Background(), entries[:1]); stream.Reason(err) != "splunk_hec: the receiver answered 403" {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ErrTokenWithNewline", func(t *testing.T) {
		if _, err := stream.NewSender(d, []byte("a\r\nX-Evil: 1"), stream.SenderOptions{}); err == nil {
			t.Fatal("a token with a newline was accepted")
		}
	})
}

func TestTestEntry(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	e := stream.TestEntry(stream.Destination{ID: "str_x", OwnerID: "usr_ana", Scope: stream.ScopeProject, ProjectID: "prj_web"}, now)
	got, err := auditlog.DecodeEntry(e.Canonical)
	if err != nil {
		t.Fatal(err)
	}
	if got.Action != stream.TestAction || got.Seq != -1 || got.ActorID != "usr_ana" || got.ProjectID == nil || *got.ProjectID != "prj_web" ||
		!got.OccurredAt.Equal(now.Truncate(time.Microsecond)) || got.ID == "" || got.ResourceID != "str_x" {
		t.Fatalf("test entry %s", e.Canonical)
	}
	if again := stream.TestEntry(stream.Destination{ID: "str_x"}, now); again.ID == e.ID {
		t.Fatal("two test entries share an id")
	}
}
