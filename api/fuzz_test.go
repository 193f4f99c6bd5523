package api_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHandler sends arbitrary requests through the whole handler: no input
// may yield a 500 or a body outside the contract's error shape, and a write
// is stored only from a body every JSON parser reads the same way (seeds
// under testdata/fuzz/FuzzHandler hold the strict-input reproductions).
func FuzzHandler(f *testing.F) {
	ts := mustServer(f, withStreams(f, false))
	user := ts.token(f, "user", "usr_ana")
	tokens := []string{"", user, ts.writer, "alu_aaaaaaaa_bbbb", "garbage"}
	f.Add(uint8(0), "/v1/audit-logs", "action_type=cron_worker.*&outcome=failed&range=24h", []byte(nil), uint8(1))
	f.Add(uint8(1), "/v1/audit-logs", "", []byte(`{"events":[{"action":"a.b","resource_type":"a","resource_id":"r","actor_id":"usr_ana","outcome":"success"}]}`), uint8(2))
	f.Add(uint8(2), "/v1/projects/prj_web", "", []byte(`{"owner_id":"usr_ana"}`), uint8(2))
	f.Add(uint8(0), "/v1/projects/prj_web/audit-logs", "actor_id=x&limit=1001&cursor=%zz", []byte(nil), uint8(1))
	f.Add(uint8(0), "/v1/audit-logs/01J0000000", "since=2026-11-25T00:00:00 03:00", []byte(nil), uint8(1))
	f.Add(uint8(3), "/v1/audit-logs", "", []byte(`{"events":[`), uint8(2))
	f.Add(uint8(1), "/v1/streams", "", []byte(`{"type":"syslog","url":"tcp://198.51.100.7:514","from_seq":0}`), uint8(1))
	f.Add(uint8(1), "/v1/streams", "", []byte(`{"type":"splunk_hec","url":"https://[::1]:8088/x","token":"t","scope":"project","project_id":""}`), uint8(1))
	f.Add(uint8(4), "/v1/streams/str_aaaaaaaaaaaaaaaaaaaaaaaaaa", "", []byte(`{"status":"paused","url":null}`), uint8(1))
	f.Add(uint8(1), "/v1/streams/str_aaaaaaaaaaaaaaaaaaaaaaaaaa/replay", "", []byte(`{"from_seq":1e99}`), uint8(1))
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"}
	f.Fuzz(func(t *testing.T, m uint8, path, query string, body []byte, tok uint8) {
		if _, err := url.ParseRequestURI(path); err != nil || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#?") {
			return // not a request a server can receive
		}
		req := httptest.NewRequest(methods[int(m)%len(methods)], "http://x"+path, bytes.NewReader(body))
		req.URL.RawQuery = query
		if tk := tokens[int(tok)%len(tokens)]; tk != "" {
			req.Header.Set("Authorization", "Bearer "+tk)
		}
		w := httptest.NewRecorder()
		ts.api.Handler().ServeHTTP(w, req)
		if w.Code >= 500 && w.Code != 503 {
			t.Fatalf("%s %s?%s: %d %s", req.Method, path, query, w.Code, w.Body)
		}
		if w.Code == 201 && (!json.Valid(body) || !utf8.Valid(body)) {
			t.Fatalf("stored events from a body that is not valid JSON in UTF-8: %q", body)
		}
		if w.Code >= 400 && req.Method != "HEAD" {
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
				t.Fatalf("%d without the error shape: %q", w.Code, w.Body)
			}
		}
	})
}
