package client_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/client"
	"github.com/guaracloud/auditlog/client/clienttest"
)

// event returns a valid event of actor with the given id.
func event(id, actor string) auditlog.Event {
	project := "prj_web"
	ip := "203.0.113.77"
	return auditlog.Event{ID: id, Action: "service.update", ResourceType: "service", ResourceID: "svc_api",
		ActorID: actor, ProjectID: &project, Outcome: auditlog.Success, IP: &ip,
		OccurredAt: time.Date(2026, 11, 25, 19, 7, 48, 0, time.FixedZone("-03", -3*3600)),
		Metadata:   map[string]any{"password": "hunter2", "replicas": 3}}
}

// mustNew returns a client of srv with token.
func mustNew(t *testing.T, srv *clienttest.Server, token string) *client.Client {
	t.Helper()
	c, err := client.New(srv.URL(), token, client.WithTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAppend(t *testing.T) {
	srv := clienttest.Start(t)
	w := mustNew(t, srv, srv.Writer)
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		entries, err := w.Append(ctx, []auditlog.Event{event("evt-1", "usr_ana"), event("evt-2", "usr_ana")})
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 2 || entries[0].ID != "evt-1" || entries[1].Seq != entries[0].Seq+1 {
			t.Fatalf("entries %+v", entries)
		}
		if *entries[0].IP != "203.0.113.0" || entries[0].Metadata["password"] != "[REDACTED]" || entries[0].Canonical == nil {
			t.Fatalf("entry not sanitized or not canonical: %s", entries[0].Canonical)
		}
	})
	t.Run("OKIdempotent", func(t *testing.T) {
		entries, err := w.Append(ctx, []auditlog.Event{event("evt-1", "usr_ana")})
		if err != nil || entries[0].Seq != 0 {
			t.Fatalf("resend: %v %+v", err, entries)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		e := event("evt-1", "usr_ana")
		e.ResourceID = "svc_other"
		_, err := w.Append(ctx, []auditlog.Event{e})
		wantStatus(t, err, http.StatusConflict, auditlog.EConflict, false)
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		e := event("evt-3", "usr_ana")
		e.Action = "Service"
		_, err := w.Append(ctx, []auditlog.Event{event("evt-4", "usr_ana"), e})
		wantStatus(t, err, http.StatusBadRequest, auditlog.EInvalid, false)
		if auditlog.ErrorParam(err) != "events[1].action" {
			t.Fatalf("param %q", auditlog.ErrorParam(err))
		}
	})
	t.Run("ErrEmptyBatch", func(t *testing.T) {
		if _, err := w.Append(ctx, nil); auditlog.ErrorCode(err) != auditlog.EInvalid {
			t.Fatalf("%v", err)
		}
	})
	t.Run("ErrUnauthorized", func(t *testing.T) {
		bad := "alw_aaaaaaaa_secretsecretsecret"
		_, err := mustNew(t, srv, bad).Append(ctx, []auditlog.Event{event("evt-5", "usr_ana")})
		wantStatus(t, err, http.StatusUnauthorized, auditlog.EUnauthorized, false)
		if strings.Contains(err.Error(), bad) {
			t.Fatalf("the token is in the error: %v", err)
		}
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		_, err := mustNew(t, srv, srv.UserToken("usr_ana")).Append(ctx, []auditlog.Event{event("evt-6", "usr_ana")})
		wantStatus(t, err, http.StatusForbidden, auditlog.EForbidden, false)
	})
}

// wantStatus checks err is a StatusError with that status and code, and whether it is retryable.
func wantStatus(t *testing.T, err error, status int, code string, retry bool) {
	t.Helper()
	var se *client.StatusError
	if !errors.As(err, &se) || se.StatusCode != status || auditlog.ErrorCode(err) != code || se.Err.Message == "" {
		t.Fatalf("got %v, want HTTP %d %s", err, status, code)
	}
	if client.Retryable(err) != retry {
		t.Fatalf("Retryable(%v) = %v", err, !retry)
	}
}

func TestNetworkErrorsRetryable(t *testing.T) {
	srv := clienttest.New(t, clienttest.FreeAddr(t)) // never started
	token := srv.Writer
	c := mustNew(t, srv, token)
	_, err := c.Append(context.Background(), []auditlog.Event{event("evt-1", "usr_ana")})
	if err == nil || !client.Retryable(err) || strings.Contains(err.Error(), token) {
		t.Fatalf("connection refused: %v (retryable %v)", err, client.Retryable(err))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Append(ctx, []auditlog.Event{event("evt-1", "usr_ana")}); client.Retryable(err) {
		t.Fatalf("a canceled call is retryable: %v", err)
	}
	for _, status := range []int{500, 502, 503, 429} {
		if !client.Retryable(&client.StatusError{StatusCode: status, Err: &auditlog.Error{}}) {
			t.Fatalf("%d is not retryable", status)
		}
	}
}

func TestNew(t *testing.T) {
	for _, u := range []string{"", "localhost:8080", "ftp://x", "http://user:pw@host", "http://host/?a=b"} {
		if _, err := client.New(u, "tok"); err == nil || strings.Contains(err.Error(), "pw") {
			t.Errorf("New(%q): %v", u, err)
		}
	}
	if c, err := client.New("http://host/base/", "tok"); err != nil || c.URL() != "http://host/base" {
		t.Fatalf("%v %v", c, err)
	}
}

func TestRead(t *testing.T) {
	srv := clienttest.Start(t)
	ctx := context.Background()
	w := mustNew(t, srv, srv.Writer)
	var events []auditlog.Event
	for i := range 5 {
		e := event("evt-"+string(rune('a'+i)), "usr_ana")
		e.OccurredAt = e.OccurredAt.Add(time.Duration(i) * time.Minute)
		events = append(events, e)
	}
	events = append(events, event("evt-bruno", "usr_bruno"))
	if _, err := w.Append(ctx, events); err != nil {
		t.Fatal(err)
	}
	ana := mustNew(t, srv, srv.UserToken("usr_ana"))

	var got []string
	cursor := ""
	for {
		q := url.Values{"limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page, next, err := ana.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(got, ",") != "evt-e,evt-d,evt-c,evt-b,evt-a" {
		t.Fatalf("walk: %v", got)
	}
	e, err := ana.Get(ctx, "evt-c")
	if err != nil || e.ID != "evt-c" || e.Canonical == nil {
		t.Fatalf("Get: %+v %v", e, err)
	}
	_, err = ana.Get(ctx, "evt-bruno")
	wantStatus(t, err, http.StatusNotFound, auditlog.ENotFound, false)
	_, _, err = ana.Query(ctx, url.Values{"outcome": {"maybe"}})
	wantStatus(t, err, http.StatusBadRequest, auditlog.EInvalid, false)
	if auditlog.ErrorParam(err) != "outcome" {
		t.Fatalf("param %q", auditlog.ErrorParam(err))
	}

	if err := w.SetProjectOwner(ctx, "prj_web", "usr_ana"); err != nil {
		t.Fatal(err)
	}
	trail, _, err := ana.QueryProject(ctx, "prj_web", url.Values{"limit": {"100"}})
	if err != nil || len(trail) != 6 {
		t.Fatalf("admin trail: %d entries, %v", len(trail), err)
	}
	actions, err := ana.Actions(ctx)
	if err != nil || len(actions) != len(auditlog.Catalog) {
		t.Fatalf("actions: %d %v", len(actions), err)
	}
}
