package streamtest

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/stream"
)

// maxBody bounds a request body a receiver reads.
const maxBody = 64 << 20

// receiver is what the HTTP receivers share: an HTTPS test server that
// records accepted batches and can be told to fail.
type receiver struct {
	t   testing.TB
	srv *httptest.Server

	mu        sync.Mutex
	batches   [][]json.RawMessage
	failUntil time.Time
	failing   bool
	attempts  int
	refused   int // attempts answered with an error on demand
	invalid   int // requests refused as malformed, unsigned or unauthorized
	firstErr  error
	expectBad bool
}

func newReceiver(t testing.TB, check func(r *http.Request, body []byte) ([]json.RawMessage, int, error), okBody string) *receiver {
	rc := &receiver{t: t}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
		if err != nil {
			http.Error(w, "read", http.StatusBadRequest)
			return
		}
		entries, status, err := check(r, body)
		rc.mu.Lock()
		rc.attempts++
		switch {
		case err != nil:
			rc.invalid++
			if rc.firstErr == nil {
				rc.firstErr = err
			}
			rc.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"text":%q,"code":%d}`, err.Error(), 4)
			return
		case rc.failing || time.Now().Before(rc.failUntil):
			rc.refused++
			rc.mu.Unlock()
			http.Error(w, "failing on demand", http.StatusServiceUnavailable)
			return
		}
		rc.batches = append(rc.batches, entries)
		rc.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, okBody)
	}))
	rc.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are tests' own doing
	rc.srv.StartTLS()
	t.Cleanup(func() {
		rc.srv.Close()
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.invalid > 0 && !rc.expectBad {
			t.Errorf("streamtest receiver refused %d invalid requests; the first: %v", rc.invalid, rc.firstErr)
		}
	})
	return rc
}

// ExpectInvalid stops the receiver from failing the test at its end for
// the invalid requests it refused (for tests that send them on purpose).
func (rc *receiver) ExpectInvalid() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.expectBad = true
}

// URL is the receiver's https:// URL.
func (rc *receiver) URL() string { return rc.srv.URL }

// RootCAs trusts the receiver's certificate (for stream.SenderOptions.RootCAs).
func (rc *receiver) RootCAs() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(rc.srv.Certificate())
	return pool
}

// SetFailing makes every request fail with 503 until SetFailing(false).
func (rc *receiver) SetFailing(on bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failing = on
}

// FailFor makes every request fail with 503 for d from now.
func (rc *receiver) FailFor(d time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.failUntil = time.Now().Add(d)
}

// Batches returns the accepted batches in arrival order, each entry's raw bytes.
func (rc *receiver) Batches() [][]json.RawMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([][]json.RawMessage(nil), rc.batches...)
}

// Entries returns every accepted entry in arrival order (resent ones again).
func (rc *receiver) Entries() []json.RawMessage {
	var out []json.RawMessage
	for _, b := range rc.Batches() {
		out = append(out, b...)
	}
	return out
}

// Stats returns how many requests came, how many were failed on demand, and
// how many were refused as invalid (bad signature, token or body).
func (rc *receiver) Stats() (attempts, refused, invalid int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.attempts, rc.refused, rc.invalid
}

// WaitEntries waits until at least n entries were accepted, failing the test
// after timeout, and returns them all in arrival order.
func (rc *receiver) WaitEntries(t testing.TB, n int, timeout time.Duration) []json.RawMessage {
	t.Helper()
	return waitFor(t, "receiver", "entries", n, timeout, rc.Entries)
}

// waitFor polls get until it returns at least n items, failing the test
// after timeout, and returns them.
func waitFor[T any](t testing.TB, who, what string, n int, timeout time.Duration, get func() []T) []T {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := get()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s got %d %s in %v, want %d", who, len(got), what, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WebhookReceiver is an HTTPS webhook endpoint that checks every request's
// Audit-Signature with stream.VerifySignature: it answers 401 to a bad one,
// and fails the test at its end unless ExpectInvalid was called.
type WebhookReceiver struct{ *receiver }

// SignatureTolerance is the replay window the webhook receiver accepts.
const SignatureTolerance = 5 * time.Minute

// NewWebhookReceiver starts a webhook receiver for secret, closed when the test ends.
func NewWebhookReceiver(t testing.TB, secret []byte) *WebhookReceiver {
	secret = bytes.Clone(secret)
	return &WebhookReceiver{newReceiver(t, func(r *http.Request, body []byte) ([]json.RawMessage, int, error) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" || r.Header.Get("User-Agent") != "auditlog" {
			return nil, http.StatusBadRequest, fmt.Errorf("webhook: %s with Content-Type %q, User-Agent %q", r.Method, r.Header.Get("Content-Type"), r.Header.Get("User-Agent"))
		}
		if err := stream.VerifySignature(secret, r.Header.Get(stream.SignatureHeader), body, time.Now(), SignatureTolerance); err != nil {
			return nil, http.StatusUnauthorized, fmt.Errorf("webhook: %w", err)
		}
		var batch struct {
			Data []json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &batch); err != nil || len(batch.Data) == 0 {
			return nil, http.StatusBadRequest, fmt.Errorf("webhook: body is not {\"data\":[entries]}: %v", err)
		}
		return batch.Data, 0, nil
	}, `{"ok":true}`)}
}

// SplunkReceiver is an HTTPS Splunk HEC event endpoint that checks the
// Authorization header (403 and code 4 otherwise, as Splunk answers) and the
// event objects' shape; invalid requests fail the test at its end unless
// ExpectInvalid was called.
type SplunkReceiver struct{ *receiver }

// SplunkEvent is one HEC event object as the receiver decodes it.
type SplunkEvent struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	SourceType string          `json:"sourcetype"`
	Event      json.RawMessage `json:"event"`
}

// NewSplunkReceiver starts a HEC receiver accepting token, closed when the test ends.
func NewSplunkReceiver(t testing.TB, token string) *SplunkReceiver {
	return &SplunkReceiver{newReceiver(t, func(r *http.Request, body []byte) ([]json.RawMessage, int, error) {
		if r.Header.Get("Authorization") != "Splunk "+token {
			return nil, http.StatusForbidden, errors.New("splunk: wrong or missing Authorization header")
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var events []json.RawMessage
		for dec.More() {
			var ev SplunkEvent
			if err := dec.Decode(&ev); err != nil {
				return nil, http.StatusBadRequest, fmt.Errorf("splunk: body is not HEC event objects: %w", err)
			}
			if ev.Source != "auditlog" || ev.SourceType != "_json" || ev.Host == "" || ev.Time == "" || len(ev.Event) == 0 {
				return nil, http.StatusBadRequest, fmt.Errorf("splunk: event object without time, host, source or sourcetype: %+v", ev)
			}
			events = append(events, ev.Event)
		}
		if len(events) == 0 {
			return nil, http.StatusBadRequest, errors.New("splunk: no events")
		}
		return events, 0, nil
	}, `{"text":"Success","code":0}`)}
}
