package query_test

import (
	"bytes"
	"errors"
	"net/url"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

// wantNamedError fails unless err is an invalid_parameter error naming a
// parameter the list endpoints read.
func wantNamedError(t *testing.T, input string, err error) {
	t.Helper()
	var e *auditlog.Error
	if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Message == "" || !readParam[e.Param] {
		t.Fatalf("%q: %#v", input, err)
	}
}

var readParam = map[string]bool{"action_type": true, "resource_type": true, "resource_id": true, "project_id": true,
	"actor_id": true, "outcome": true, "since": true, "until": true, "range": true, "limit": true, "cursor": true}

// FuzzParse feeds raw query strings through Values and Parse, as the API and
// the dashboard do: no panic; every error an invalid_parameter naming a read
// parameter; every success within the vocabulary's bounds.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "action_type=service.update,cron_worker.*&outcome=failed&limit=10",
		"since=2026-11-24T00:00:00Z&until=2026-11-25T00:00:00-03:00", "range=24h&until=2026-11-25T00:00:00Z",
		"resource_type=service&resource_id=svc_1&project_id=p&actor_id=u&cursor=AQ", "limit=1000&limit=1000",
		"since=0000-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999999+23:59", "action_type=a.b.c.d.*",
		"since=%zz", "outcome=failed;x=1", "action_type=a.b,,c.d", "resource_type=" + string(bytes.Repeat([]byte("t,"), 60)),
		"action_type=a.b&action_type=a.b&action_type=c.*", "range=1h&since=2026-11-25T00:00:00Z",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, raw string, admin bool) {
		values, err := query.Values(raw)
		if err != nil {
			wantNamedError(t, raw, err)
			return
		}
		p, err := query.Parse(values, now, admin)
		if err != nil {
			wantNamedError(t, raw, err)
			return
		}
		f := p.Query.Filter
		if p.Query.Limit < 1 || p.Query.Limit > auditlog.MaxLimit {
			t.Fatalf("Parse(%q): limit %d", raw, p.Query.Limit)
		}
		if n := len(f.Actions) + len(f.Families); n > auditlog.MaxListItems || len(f.ResourceTypes) > auditlog.MaxListItems {
			t.Fatalf("Parse(%q): %d actions, %d types over the bound", raw, n, len(f.ResourceTypes))
		}
		if f.Since != nil && f.Until != nil && f.Since.After(*f.Until) {
			t.Fatalf("Parse(%q): since after until", raw)
		}
		for _, a := range f.Actions {
			if !auditlog.ValidAction(a) {
				t.Fatalf("Parse(%q): action %q", raw, a)
			}
		}
		for _, rt := range f.ResourceTypes {
			if !auditlog.ValidResourceType(rt) {
				t.Fatalf("Parse(%q): resource type %q", raw, rt)
			}
		}
		if f.Outcome != "" && !f.Outcome.Valid() {
			t.Fatalf("Parse(%q): outcome %q", raw, f.Outcome)
		}
		if _, ok := query.RangePreset(p.Range); p.Range != "" && !ok {
			t.Fatalf("Parse(%q): range %q", raw, p.Range)
		}
		if admin && f.ProjectID != "" {
			t.Fatalf("Parse(%q): admin trail took project_id from the query", raw)
		}
		if len(p.Cursor) > query.MaxValueLen {
			t.Fatalf("Parse(%q): cursor of %d bytes", raw, len(p.Cursor))
		}
		_ = f.Key() // never panics
	})
}

// FuzzCursorDecode feeds arbitrary strings to the cursor decoder, and
// mutations of real cursors: no panic; every error an invalid_parameter on
// cursor; only a cursor minted by the codec for these very scope and
// filters decodes, to the position it was minted for.
func FuzzCursorDecode(f *testing.F) {
	c, err := query.NewCursorCodec(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		f.Fatal(err)
	}
	scope := auditlog.UserScope("usr_ana")
	values, _ := url.ParseQuery("action_type=service.update&outcome=failed")
	p, err := query.Parse(values, now, false)
	if err != nil {
		f.Fatal(err)
	}
	minted := map[string]auditlog.Position{}
	for _, pos := range []auditlog.Position{
		{OccurredAt: now.UnixMicro(), ID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}, {OccurredAt: -1, ID: "x"},
		{OccurredAt: 1 << 62, ID: string(bytes.Repeat([]byte("a"), auditlog.MaxIDLen))},
	} {
		s := c.Encode(pos, scope, &p)
		minted[s] = pos
		f.Add(s)
	}
	for _, seed := range []string{"", "AQ", "garbage", "=", "%%%", "AQAGYRiQ_u-F", string(bytes.Repeat([]byte("A"), 300))} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pos, err := c.Decode(s, scope, &p)
		if err != nil {
			var e *auditlog.Error
			if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Param != "cursor" || e.Message == "" {
				t.Fatalf("Decode(%q): %#v", s, err)
			}
			return
		}
		want, ok := minted[s]
		if !ok {
			// A forgery would need the key: only a re-minted cursor decodes.
			if c.Encode(*pos, scope, &p) != s {
				t.Fatalf("Decode(%q) accepted a cursor the codec did not mint", s)
			}
			return
		}
		if *pos != want {
			t.Fatalf("Decode(%q) = %+v, want %+v", s, *pos, want)
		}
	})
}
