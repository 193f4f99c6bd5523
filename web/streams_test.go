package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
	"github.com/guaracloud/auditlog/web"
)

// receiver is a webhook receiver that counts the bodies whose Audit-Signature
// verifies under its secret, and the ones that do not.
type receiver struct {
	mu     sync.Mutex
	secret []byte
	good   [][]byte
	bad    int
}

// ServeHTTP checks the signature and keeps the body.
func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if err := stream.VerifySignature(rc.secret, r.Header.Get(stream.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rc.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	rc.good = append(rc.good, body)
}

// setSecret sets the secret the receiver checks signatures with.
func (rc *receiver) setSecret(s string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secret = []byte(s)
}

// counts returns how many bodies verified and how many did not.
func (rc *receiver) counts() (good, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.good), rc.bad
}

// newReceiver starts a webhook receiver on loopback.
func newReceiver(t testing.TB) (*receiver, string) {
	t.Helper()
	rc := &receiver{}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return rc, srv.URL + "/audit"
}

// secretRE finds webhook signing secrets.
var secretRE = regexp.MustCompile(`whsec_[A-Za-z0-9_-]+`)

// streamRowRE finds the rows of the streams table and their ids.
var streamRowRE = regexp.MustCompile(`<tbody class="stream" id="s-([^"]+)"`)

// streamIDs returns the ids of the rows of the Streaming page, in order.
func streamIDs(body string) []string {
	out := []string{}
	for _, m := range streamRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// streamRow returns the HTML of one stream of the streams table: its facts and its actions.
func streamRow(t testing.TB, body, id string) string {
	t.Helper()
	start := strings.Index(body, `id="s-`+id+`"`)
	if start < 0 {
		t.Fatalf("no row for stream %s in the page", id)
	}
	end := strings.Index(body[start:], "</tbody>")
	return body[start : start+end]
}

// apiStreams lists a user's streams through the API.
func (e *env) apiStreams(t testing.TB, token string) []stream.View {
	t.Helper()
	res := e.apiDo(t, "GET", "/v1/streams", token, nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /v1/streams: %d %s", res.Status, res.Body)
	}
	var l stream.List
	if err := json.Unmarshal([]byte(res.Body), &l); err != nil {
		t.Fatal(err)
	}
	return l.Data
}

// apiDo calls the API with a bearer token and an optional JSON body.
func (e *env) apiDo(t testing.TB, method, path, token string, body any) page {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return page{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// apiErrorMessage returns the message of an API error answer.
func apiErrorMessage(t testing.TB, res page) string {
	t.Helper()
	var e struct {
		Error struct{ Message, Param string }
	}
	if err := json.Unmarshal([]byte(res.Body), &e); err != nil || e.Error.Message == "" {
		t.Fatalf("not an API error: %d %s", res.Status, res.Body)
	}
	return e.Error.Message
}

// postForm posts a form of the Streaming page with the CSRF token of the page it was on.
func (c *browserClient) postForm(t testing.TB, on page, path string, fields ...string) page {
	t.Helper()
	form := url.Values{"csrf_token": {csrf(t, on.Body)}}
	for i := 0; i+1 < len(fields); i += 2 {
		form.Set(fields[i], fields[i+1])
	}
	return c.post(t, path, form)
}

func TestStreamsLifecycle(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	rc, hook := newReceiver(t)
	c := e.client(t)

	// Signed out: sign in first, then back to the page.
	res := c.get(t, "/streams")
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/sign-in?next=%2Fstreams" {
		t.Fatalf("signed out: %d %q", res.Status, res.Header.Get("Location"))
	}
	form := c.get(t, "/sign-in?next=%2Fstreams")
	res = c.post(t, "/sign-in", url.Values{"csrf_token": {csrf(t, form.Body)}, "token": {alice}, "next": {"/streams"}})
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/streams" {
		t.Fatalf("sign in: %d %q", res.Status, res.Header.Get("Location"))
	}
	list := c.get(t, "/streams")
	if list.Status != http.StatusOK || !strings.Contains(list.Body, "No streams yet") ||
		!strings.Contains(list.Body, `<a href="/streams" aria-current="page">Streaming</a>`) {
		t.Fatalf("empty page: %d\n%s", list.Status, list.Body)
	}

	// Create: the answer holds the secret, and nothing else ever does.
	created := c.postForm(t, list, "/streams", "type", "webhook", "url", hook, "scope", "me")
	if created.Status != http.StatusCreated {
		t.Fatalf("create: %d\n%s", created.Status, created.Body)
	}
	secrets := secretRE.FindAllString(created.Body, -1)
	if len(secrets) == 0 || !strings.Contains(created.Body, "it will not be shown again") {
		t.Fatalf("no secret in the create answer:\n%s", created.Body)
	}
	secret := secrets[0]
	if created.Header.Get("Location") != "" || strings.Contains(fmt.Sprint(created.Header), secret) {
		t.Errorf("the create answer's headers carry the secret or a redirect: %v", created.Header)
	}
	if got := strings.Count(created.Body, `id="stream-secret"`); got != 1 {
		t.Errorf("the secret is shown %d times", got)
	}
	rc.setSecret(secret)
	views := e.apiStreams(t, alice)
	if len(views) != 1 || views[0].URL != hook || views[0].Status != stream.Active || views[0].Scope != stream.ScopeMe {
		t.Fatalf("the API sees %+v", views)
	}
	id := views[0].ID
	list = c.get(t, "/streams")
	if got := streamIDs(list.Body); len(got) != 1 || got[0] != id {
		t.Fatalf("rows %v, want [%s]", got, id)
	}
	for name, body := range map[string]string{"the list": list.Body, "the audit logs": c.get(t, "/operations/audit-logs").Body,
		"the API": e.apiDo(t, "GET", "/v1/streams/"+id, alice, nil).Body, "the logs": e.logs.String(),
		"the delete page": c.get(t, "/streams/"+id+"/delete").Body} {
		if strings.Contains(body, secret) {
			t.Errorf("%s shows the secret", name)
		}
	}
	row := streamRow(t, list.Body, id)
	for _, want := range []string{"Webhook", ">Me<", hook, "Active", `name="status" value="paused"`} {
		if !strings.Contains(row, want) {
			t.Errorf("the row lacks %q:\n%s", want, row)
		}
	}

	// The test event reaches the receiver, signed with that secret.
	res = c.postForm(t, list, "/streams/"+id+"/test")
	if res.Status != http.StatusOK || !strings.Contains(streamRow(t, res.Body, id), "Test event delivered.") {
		t.Fatalf("test event: %d\n%s", res.Status, res.Body)
	}
	if good, bad := rc.counts(); good != 1 || bad != 0 {
		t.Errorf("receiver: %d verified, %d not", good, bad)
	}

	// Pause, resume, replay: each redirects to the list with a notice, and the API agrees.
	for _, step := range []struct {
		path, field, value, done, status string
	}{
		{"/status", "status", "paused", "paused", stream.Paused},
		{"/status", "status", "active", "resumed", stream.Active},
		{"/replay", "from_seq", "0", "replayed", stream.Active},
	} {
		res = c.postForm(t, list, "/streams/"+id+step.path, step.field, step.value)
		if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/streams?done="+step.done {
			t.Fatalf("%s %s: %d %q\n%s", step.path, step.value, res.Status, res.Header.Get("Location"), res.Body)
		}
		list = c.get(t, res.Header.Get("Location"))
		if !strings.Contains(list.Body, `id="notice"`) {
			t.Errorf("%s: no notice", step.done)
		}
		v := e.apiStreams(t, alice)[0]
		if v.Status != step.status {
			t.Errorf("after %s the API says %s", step.done, v.Status)
		}
		if paused := strings.Contains(streamRow(t, list.Body, id), "badge-paused"); paused != (step.status == stream.Paused) {
			t.Errorf("after %s the row's badge is wrong", step.done)
		}
	}
	if v := e.apiStreams(t, alice)[0]; v.Position != -1 {
		t.Errorf("after the replay from 0 the position is %d", v.Position)
	}

	// Delete: a confirm page, then the post.
	confirm := c.get(t, "/streams/"+id+"/delete")
	if confirm.Status != http.StatusOK || !strings.Contains(confirm.Body, `action="/streams/`+id+`/delete"`) {
		t.Fatalf("confirm: %d\n%s", confirm.Status, confirm.Body)
	}
	res = c.postForm(t, confirm, "/streams/"+id+"/delete")
	if res.Status != http.StatusSeeOther || res.Header.Get("Location") != "/streams?done=deleted" {
		t.Fatalf("delete: %d %q", res.Status, res.Header.Get("Location"))
	}
	if res := e.apiDo(t, "GET", "/v1/streams/"+id, alice, nil); res.Status != http.StatusNotFound {
		t.Errorf("after delete the API answers %d", res.Status)
	}
	if res := c.get(t, "/streams/"+id+"/delete"); res.Status != http.StatusNotFound {
		t.Errorf("the confirm page of a deleted stream: %d", res.Status)
	}

	// Every change is audited as the signed-in user's, from this browser.
	got := map[string]int{}
	for _, d := range e.apiList(t, alice, "/v1/audit-logs", "action_type=audit_log.stream.*&limit=50").Data {
		got[d.Action]++
	}
	want := map[string]int{"audit_log.stream.create": 1, "audit_log.stream.update": 2, "audit_log.stream.replay": 1, "audit_log.stream.delete": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit entries %v, want %v", got, want)
	}
	raw := e.apiDo(t, "GET", "/v1/audit-logs?action_type=audit_log.stream.create", alice, nil).Body
	if !strings.Contains(raw, `"user_agent":"Go-http-client/1.1"`) || !strings.Contains(raw, `"actor_id":"usr_alice"`) || !strings.Contains(raw, `"ip":"127.0.0.`) {
		t.Errorf("the create entry does not name the browser's user, address and agent: %s", raw)
	}
}

func TestStreamsFormErrors(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	ctx := context.Background()
	if err := e.store.SetProjectOwner(ctx, "prj_alice", "usr_alice"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.SetProjectOwner(ctx, "prj_bob", "usr_bob"); err != nil {
		t.Fatal(err)
	}
	_, hook := newReceiver(t)
	c := e.client(t)
	c.signIn(t, alice)
	list := c.get(t, "/streams")
	if !strings.Contains(list.Body, `<option value="project:prj_alice">Admin trail of prj_alice</option>`) ||
		strings.Contains(list.Body, "prj_bob") {
		t.Fatalf("the scope choices are not alice's owned projects:\n%s", list.Body)
	}

	// Each refusal shows the API's own message for the same request, with its status.
	for _, tc := range []struct {
		name   string
		fields []string
		api    map[string]any
		status int
	}{
		{"ErrType", []string{"type", "ftp", "url", hook}, map[string]any{"type": "ftp", "url": hook}, http.StatusBadRequest},
		{"ErrURL", []string{"type", "webhook", "url", "ftp://example.com/x"}, map[string]any{"type": "webhook", "url": "ftp://example.com/x"}, http.StatusBadRequest},
		{"ErrNoToken", []string{"type", "splunk_hec", "url", hook}, map[string]any{"type": "splunk_hec", "url": hook}, http.StatusBadRequest},
		{"ErrTokenOnWebhook", []string{"type", "webhook", "url", hook, "token", "abc"}, map[string]any{"type": "webhook", "url": hook, "token": "abc"}, http.StatusBadRequest},
		{"ErrNotOwner", []string{"type", "webhook", "url", hook, "scope", "project:prj_bob"},
			map[string]any{"type": "webhook", "url": hook, "scope": "project", "project_id": "prj_bob"}, http.StatusNotFound},
		{"ErrFromSeq", []string{"type", "webhook", "url", hook, "from_seq", "999"}, map[string]any{"type": "webhook", "url": hook, "from_seq": 999}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := e.apiDo(t, "POST", "/v1/streams", alice, tc.api)
			msg := apiErrorMessage(t, want)
			res := c.postForm(t, list, "/streams", tc.fields...)
			if res.Status != tc.status || want.Status != tc.status {
				t.Fatalf("page %d, API %d, want %d", res.Status, want.Status, tc.status)
			}
			if !strings.Contains(html.UnescapeString(res.Body), msg) || !strings.Contains(res.Body, `id="create-error"`) {
				t.Errorf("the page does not show %q next to the form:\n%s", msg, res.Body)
			}
			if !strings.Contains(res.Body, `aria-invalid="true"`) {
				t.Error("no field is marked invalid")
			}
			if secretRE.MatchString(res.Body) {
				t.Error("a refused create shows a secret")
			}
		})
	}
	t.Run("ErrFromSeqNotNumber", func(t *testing.T) {
		res := c.postForm(t, list, "/streams", "type", "webhook", "url", hook, "from_seq", "soon")
		if res.Status != http.StatusBadRequest || !strings.Contains(res.Body, "from_seq must be a whole number") {
			t.Errorf("%d\n%s", res.Status, res.Body)
		}
	})
	if n := len(e.apiStreams(t, alice)); n != 0 {
		t.Fatalf("refused creates left %d streams", n)
	}

	t.Run("ProjectScope", func(t *testing.T) {
		res := c.postForm(t, list, "/streams", "type", "splunk_hec", "url", hook, "token", "hec-token-1", "scope", "project:prj_alice")
		if res.Status != http.StatusCreated || secretRE.MatchString(res.Body) {
			t.Fatalf("%d (a Splunk stream has no secret to show)\n%s", res.Status, res.Body)
		}
		v := e.apiStreams(t, alice)
		if len(v) != 1 || v[0].Scope != stream.ScopeProject || v[0].ProjectID == nil || *v[0].ProjectID != "prj_alice" {
			t.Fatalf("the API sees %+v", v)
		}
		if row := streamRow(t, res.Body, v[0].ID); !strings.Contains(row, "Splunk HEC") || !strings.Contains(row, "<code>prj_alice</code>") {
			t.Errorf("row:\n%s", row)
		}
		if strings.Contains(res.Body, "hec-token-1") {
			t.Error("the page shows the HEC token")
		}
	})

	t.Run("ErrReplay", func(t *testing.T) {
		id := e.apiStreams(t, alice)[0].ID
		forward := e.apiDo(t, "POST", "/v1/streams/"+id+"/replay", alice, map[string]any{"from_seq": 1 << 40})
		for _, tc := range []struct{ value, want string }{
			{fmt.Sprint(1 << 40), apiErrorMessage(t, forward)},
			{"x", "from_seq must be a whole number"},
			{"", "from_seq is required"},
		} {
			res := c.postForm(t, list, "/streams/"+id+"/replay", "from_seq", tc.value)
			if res.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(streamRow(t, res.Body, id)), tc.want) {
				t.Errorf("replay from %q: %d, want %q in the row\n%s", tc.value, res.Status, tc.want, res.Body)
			}
		}
		bad := c.postForm(t, list, "/streams/"+id+"/status", "status", "stopped")
		if bad.Status != http.StatusBadRequest || !strings.Contains(html.UnescapeString(streamRow(t, bad.Body, id)), `status must be "active" or "paused"`) {
			t.Errorf("status stopped: %d", bad.Status)
		}
	})
}

func TestStreamsCSRF(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	_, hook := newReceiver(t)
	c := e.client(t)
	c.signIn(t, alice)
	list := c.get(t, "/streams")
	token := csrf(t, list.Body)
	v, err := e.streams.Create(context.Background(), stream.Caller{UserID: "usr_alice"}, stream.CreateRequest{Type: "webhook", URL: hook})
	if err != nil {
		t.Fatal(err)
	}
	fields := url.Values{"type": {"webhook"}, "url": {hook}, "status": {"paused"}, "from_seq": {"0"}}
	for _, path := range []string{"/streams", "/streams/" + v.ID + "/status", "/streams/" + v.ID + "/test",
		"/streams/" + v.ID + "/replay", "/streams/" + v.ID + "/delete"} {
		for name, tc := range map[string]struct {
			token  string
			header []string
		}{
			"NoToken":     {"", nil},
			"WrongToken":  {"x" + token, nil},
			"CrossSite":   {token, []string{"Sec-Fetch-Site", "cross-site"}},
			"OtherOrigin": {token, []string{"Origin", "https://evil.example"}},
		} {
			form := url.Values{}
			for k, vs := range fields {
				form[k] = vs
			}
			if tc.token != "" {
				form.Set("csrf_token", tc.token)
			}
			if res := c.post(t, path, form, tc.header...); res.Status != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", name, path, res.Status)
			}
		}
	}
	got := e.apiStreams(t, alice)
	if len(got) != 1 || got[0].Status != stream.Active || got[0].UpdatedAt != v.UpdatedAt {
		t.Errorf("refused posts changed the streams: %+v", got)
	}
	// A post without a session (but with a valid form) goes to sign in, changing nothing.
	anon := e.client(t)
	form := anon.get(t, "/sign-in")
	res := anon.post(t, "/streams/"+v.ID+"/delete", url.Values{"csrf_token": {csrf(t, form.Body)}})
	if res.Status != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/sign-in?next=%2Fstreams") {
		t.Errorf("signed-out post: %d %q", res.Status, res.Header.Get("Location"))
	}
	if len(e.apiStreams(t, alice)) != 1 {
		t.Error("a signed-out post deleted the stream")
	}
}

func TestStreamsIsolation(t *testing.T) {
	e := newEnv(t)
	e.token(t, auditlog.UserToken, "usr_alice")
	bob := e.token(t, auditlog.UserToken, "usr_bob")
	rc, hook := newReceiver(t)
	v, err := e.streams.Create(context.Background(), stream.Caller{UserID: "usr_alice"}, stream.CreateRequest{Type: "webhook", URL: hook})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.signIn(t, bob)
	list := c.get(t, "/streams")
	if strings.Contains(list.Body, v.ID) || strings.Contains(list.Body, hook) || len(streamIDs(list.Body)) != 0 {
		t.Fatal("bob sees alice's stream")
	}
	for _, id := range []string{v.ID, "str_nosuchstream", "%ff"} {
		if res := c.get(t, "/streams/"+id+"/delete"); res.Status != http.StatusNotFound || !strings.Contains(res.Body, "Stream not found") {
			t.Errorf("GET delete %s: %d", id, res.Status)
		}
		for _, p := range []struct{ path, field, value string }{
			{"/status", "status", "paused"}, {"/test", "", ""}, {"/replay", "from_seq", "0"}, {"/delete", "", ""},
		} {
			if res := c.postForm(t, list, "/streams/"+id+p.path, p.field, p.value); res.Status != http.StatusNotFound {
				t.Errorf("POST %s%s: %d, want 404", id, p.path, res.Status)
			}
		}
	}
	after, err := e.streams.Get(context.Background(), "usr_alice", v.ID)
	if err != nil || after.Status != stream.Active || after.UpdatedAt != v.UpdatedAt {
		t.Errorf("bob's posts changed alice's stream: %+v %v", after, err)
	}
	if good, bad := rc.counts(); good+bad != 0 {
		t.Errorf("bob's test reached alice's receiver %d times", good+bad)
	}
}

func TestStreamsManyRows(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	_, hook := newReceiver(t)
	long := hook + "?" + strings.Repeat("q", stream.MaxURLLen-len(hook)-1)
	const n = 40
	for i := range n {
		u := hook
		if i == 0 {
			u = long
		}
		if _, err := e.streams.Create(context.Background(), stream.Caller{UserID: "usr_alice"}, stream.CreateRequest{Type: "webhook", URL: u}); err != nil {
			t.Fatal(err)
		}
	}
	c := e.client(t)
	c.signIn(t, alice)
	res := c.get(t, "/streams")
	want := []string{}
	for _, v := range e.apiStreams(t, alice) {
		want = append(want, v.ID)
	}
	if got := streamIDs(res.Body); fmt.Sprint(got) != fmt.Sprint(want) || len(got) != n {
		t.Fatalf("rows %v, want the API's %v", got, want)
	}
	// The long URL is clipped in the cell; its title holds at most 1 KiB of it.
	if strings.Count(res.Body, strings.Repeat("q", 1100)) != 0 {
		t.Error("the long URL is shown in full")
	}
}

// TestStreamsUnavailable closes the store under the page: the real service
// answers EUnavailable, and the page is the friendly 503.
func TestStreamsUnavailable(t *testing.T) {
	e := newEnv(t)
	c := e.client(t)
	c.signIn(t, e.token(t, auditlog.UserToken, "usr_alice"))
	e.store.Close()
	res := c.get(t, "/streams")
	if res.Status != http.StatusServiceUnavailable || !strings.Contains(res.Body, "cannot be reached right now") {
		t.Errorf("%d\n%s", res.Status, res.Body)
	}
}

func TestStreamsOff(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.Streams = nil })
	c := e.client(t)
	c.signIn(t, e.token(t, auditlog.UserToken, "usr_alice"))
	if res := c.get(t, "/operations/audit-logs"); strings.Contains(res.Body, `href="/streams"`) {
		t.Error("the navigation links a page that is off")
	}
	if res := c.get(t, "/streams"); res.Status != http.StatusNotFound {
		t.Errorf("GET /streams: %d", res.Status)
	}
}

func TestStreamsTestEventRefused(t *testing.T) {
	e := newEnv(t)
	alice := e.token(t, auditlog.UserToken, "usr_alice")
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no thanks", http.StatusForbidden)
	}))
	t.Cleanup(refusing.Close)
	v, err := e.streams.Create(context.Background(), stream.Caller{UserID: "usr_alice"}, stream.CreateRequest{Type: "webhook", URL: refusing.URL})
	if err != nil {
		t.Fatal(err)
	}
	c := e.client(t)
	c.signIn(t, alice)
	list := c.get(t, "/streams")
	res := c.postForm(t, list, "/streams/"+v.ID+"/test")
	want := e.apiDo(t, "POST", "/v1/streams/"+v.ID+"/test", alice, nil)
	var tr stream.TestResult
	if err := json.Unmarshal([]byte(want.Body), &tr); err != nil || tr.Delivered || tr.Error == nil {
		t.Fatalf("the API's test: %s", want.Body)
	}
	row := html.UnescapeString(streamRow(t, res.Body, v.ID))
	if res.Status != http.StatusOK || !strings.Contains(row, "Test event not delivered: "+*tr.Error) {
		t.Errorf("%d, want the API's error %q in the row:\n%s", res.Status, *tr.Error, row)
	}
}
