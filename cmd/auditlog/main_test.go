package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/syncbuf"
)

// testServer is a real server on 127.0.0.1:0 with a temp SQLite file.
type testServer struct {
	*Main
	t      *testing.T
	path   string
	logs   *syncbuf.Buffer
	writer string
}

// MustStart starts Main on a temp SQLite file and makes a writer token.
func MustStart(t *testing.T) *testServer {
	t.Helper()
	return MustStartDB(t, filepath.Join(t.TempDir(), "audit.db"))
}

// MustStartDB starts Main on db (a SQLite path or a postgres:// URL) and makes a writer token.
func MustStartDB(t *testing.T, db string) *testServer {
	t.Helper()
	return startMain(t, &Main{DB: db})
}

// startMain starts m on 127.0.0.1:0 with its log captured, closes it when
// the test ends, and makes a writer token.
func startMain(t *testing.T, m *Main) *testServer {
	t.Helper()
	logs := &syncbuf.Buffer{}
	m.Addr = "127.0.0.1:0"
	m.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	ts := &testServer{Main: m, t: t, path: m.DB, logs: logs}
	ts.writer = ts.token(auditlog.WriterToken, "")
	return ts
}

// token creates a token in the server's store and returns its secret.
func (ts *testServer) token(kind auditlog.TokenKind, user string) string {
	ts.t.Helper()
	secret, tok, err := auditlog.NewToken(kind, user, time.Now())
	if err != nil {
		ts.t.Fatal(err)
	}
	if err := ts.reads.CreateToken(context.Background(), tok); err != nil {
		ts.t.Fatal(err)
	}
	return secret
}

// response is a decoded HTTP answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// errorBody is the contract's error shape.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Param   string `json:"param"`
	} `json:"error"`
}

// listBody is the contract's list shape.
type listBody struct {
	Data       []json.RawMessage `json:"data"`
	NextCursor *string           `json:"next_cursor"`
}

// do sends one request; body may be nil, a []byte or a value to encode.
func (ts *testServer) do(method, path, token string, body any) response {
	ts.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			ts.t.Fatal(err)
		}
		r = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, ts.URL()+path, r)
	if err != nil {
		ts.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	return response{Status: res.StatusCode, Header: res.Header, Body: raw}
}

// post writes events with the writer token and returns the response.
func (ts *testServer) post(events ...map[string]any) response {
	ts.t.Helper()
	if len(events) == 1 {
		return ts.do("POST", "/v1/audit-logs", ts.writer, events[0])
	}
	return ts.do("POST", "/v1/audit-logs", ts.writer, map[string]any{"events": events})
}

// mustPost writes events and fails unless they were stored.
func (ts *testServer) mustPost(events ...map[string]any) {
	ts.t.Helper()
	for len(events) > 0 {
		n := min(len(events), 500)
		if res := ts.post(events[:n]...); res.Status != http.StatusCreated {
			ts.t.Fatalf("post: %d %s", res.Status, res.Body)
		}
		events = events[n:]
	}
}

// walk follows next_cursor from path (which carries the filters) and returns every entry id.
func (ts *testServer) walk(path, token string) []string {
	ts.t.Helper()
	var ids []string
	next := path
	for range 10000 {
		res := ts.do("GET", next, token, nil)
		if res.Status != http.StatusOK {
			ts.t.Fatalf("GET %s: %d %s", next, res.Status, res.Body)
		}
		var page listBody
		if err := json.Unmarshal(res.Body, &page); err != nil {
			ts.t.Fatalf("GET %s: %v", next, err)
		}
		for _, raw := range page.Data {
			var e struct{ ID string }
			json.Unmarshal(raw, &e)
			ids = append(ids, e.ID)
		}
		if page.NextCursor == nil {
			return ids
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "cursor=" + url.QueryEscape(*page.NextCursor)
	}
	ts.t.Fatal("cursor walk does not end")
	return nil
}

// wantError checks a response is an error of the contract's shape with that status, code and param.
func wantError(t *testing.T, res response, status int, code, param string) {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(res.Body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("status %d: body is not the error shape: %s", res.Status, res.Body)
	}
	if res.Status != status || e.Error.Code != code || e.Error.Param != param {
		t.Fatalf("got %d %s param=%q (%s), want %d %s param=%q", res.Status, e.Error.Code, e.Error.Param, e.Error.Message, status, code, param)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error content type %q", ct)
	}
}

func ptrTo(s string) *string { return &s }

var _ = fmt.Sprint

func stringsReader(s string) io.Reader { return strings.NewReader(s) }
