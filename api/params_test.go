package api_test

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestParseRead(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		admin bool
		want  api.ReadParams
	}{
		{"Defaults", "", false, api.ReadParams{Query: auditlog.Query{Limit: 50}}},
		{"EmptyValuesAreAbsent", "outcome=&limit=&since=&action_type=&range=&cursor=", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50}}},
		{"UnknownIgnored", "foo=bar&page=2", false, api.ReadParams{Query: auditlog.Query{Limit: 50}}},
		{"ActionsCommaAndRepeated", "action_type=service.update,cron_worker.*&action_type=project.member.invite&action_type=service.update", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Actions: []string{"service.update", "project.member.invite"}, Families: []string{"cron_worker"}}}}},
		{"UnknownButWellFormedAction", "action_type=nothing.like_this", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Actions: []string{"nothing.like_this"}}}}},
		{"SubFamily", "action_type=project.member.*", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Families: []string{"project.member"}}}}},
		{"ResourceTypes", "resource_type=service,deploy&resource_type=service", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{ResourceTypes: []string{"service", "deploy"}}}}},
		{"Scalars", "resource_id=svc_1&project_id=prj_web&actor_id=usr_ana&outcome=failed&limit=1000", false,
			api.ReadParams{Query: auditlog.Query{Limit: 1000, Filter: auditlog.Filter{
				ResourceID: "svc_1", ProjectID: "prj_web", ActorID: "usr_ana", Outcome: auditlog.Failed}}}},
		{"AdminIgnoresProjectID", "project_id=prj_web&actor_id=usr_bruno", true,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{ActorID: "usr_bruno"}}}},
		{"OutcomeAll", "outcome=all", false, api.ReadParams{Query: auditlog.Query{Limit: 50}}},
		{"SameScalarTwice", "limit=7&limit=7", false, api.ReadParams{Query: auditlog.Query{Limit: 7}}},
		{"SinceUntil", "since=2026-11-24T00:00:00-03:00&until=2026-11-25T00:00:00Z", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Since: mustTime("2026-11-24T00:00:00-03:00"), Until: mustTime("2026-11-25T00:00:00Z")}}}},
		{"SinceEqualsUntil", "since=2026-11-24T00:00:00Z&until=2026-11-24T00:00:00Z", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Since: mustTime("2026-11-24T00:00:00Z"), Until: mustTime("2026-11-24T00:00:00Z")}}}},
		{"UnescapedPlusOffset", "since=2026-11-24T00:00:00+02:00", false, // '+' decodes to ' '
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00+02:00")}}}},
		{"LowercaseTZ", "since=2026-11-24t00:00:00z", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00Z")}}}},
		{"SubMicrosecondRoundsUp", "since=2026-11-24T00:00:00.0000001Z", false,
			api.ReadParams{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00.000001Z")}}}},
		{"Range1h", "range=1h", false, api.ReadParams{Range: "1h",
			Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-25T11:00:00Z")}}}},
		{"Range7dWithUntil", "range=7d&until=2026-11-25T00:00:00Z", false, api.ReadParams{Range: "7d",
			Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-18T12:00:00Z"), Until: mustTime("2026-11-25T00:00:00Z")}}}},
		{"Cursor", "cursor=abc", false, api.ReadParams{Cursor: "abc", Query: auditlog.Query{Limit: 50}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			values, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := api.ParseRead(values, now, c.admin)
			if err != nil {
				t.Fatalf("ParseRead(%q): %v", c.query, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("ParseRead(%q) (-want +got):\n%s", c.query, diff)
			}
			q, err := api.ParseQuery(values, now, c.admin)
			if err != nil || !cmp.Equal(q, c.want.Query) {
				t.Fatalf("ParseQuery(%q) = %+v, %v; want %+v", c.query, q, err, c.want.Query)
			}
		})
	}
}

func TestParseRead_Err(t *testing.T) {
	for _, c := range []struct{ query, param string }{
		{"action_type=Service.Update", "action_type"},
		{"action_type=service", "action_type"},
		{"action_type=service.", "action_type"},
		{"action_type=.update", "action_type"},
		{"action_type=service..update", "action_type"},
		{"action_type=*", "action_type"},
		{"action_type=service.*.update", "action_type"},
		{"action_type=cron_worker*", "action_type"},
		{"action_type=service.update,", "action_type"},
		{"action_type=service.update,,deploy.create", "action_type"},
		{"action_type=service.update,+deploy.create", "action_type"},
		{"action_type=service.update&action_type=bad", "action_type"},
		{"resource_type=Service", "resource_type"},
		{"resource_type=service,", "resource_type"},
		{"resource_type=cron-worker", "resource_type"},
		{"resource_id=%00", "resource_id"},
		{"project_id=a%0Ab", "project_id"},
		{"actor_id=%7F", "actor_id"},
		{"actor_id=%ff", "actor_id"},
		{"outcome=maybe", "outcome"},
		{"outcome=FAILED", "outcome"},
		{"outcome=success&outcome=failed", "outcome"},
		{"since=yesterday", "since"},
		{"since=2026-13-01T00:00:00Z", "since"},
		{"since=2026-11-25", "since"},
		{"since=2026-11-25T00:00:00", "since"},
		{"until=2026-11-25", "until"},
		{"until=1764000000", "until"},
		{"since=2026-11-25T00:00:00Z&until=2026-11-24T00:00:00Z", "since"},
		{"since=2026-11-25T00:00:00Z&since=2026-11-24T00:00:00Z", "since"},
		{"range=2w", "range"},
		{"range=1H", "range"},
		{"range=24h&range=7d", "range"},
		{"range=1h&since=2026-11-25T00:00:00Z", "range"},
		{"range=1h&until=2026-11-24T00:00:00Z", "range"},
		{"limit=0", "limit"},
		{"limit=1001", "limit"},
		{"limit=abc", "limit"},
		{"limit=-1", "limit"},
		{"limit=1.5", "limit"},
		{"limit=99999999999999999999", "limit"},
		{"limit=5&limit=6", "limit"},
		{"resource_id=a&resource_id=b", "resource_id"},
		{"cursor=a&cursor=b", "cursor"},
	} {
		t.Run(c.query, func(t *testing.T) {
			values, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			_, err = api.ParseRead(values, now, false)
			var e *auditlog.Error
			if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Param != c.param || e.Message == "" {
				t.Fatalf("ParseRead(%q) = %v; want %s on %s", c.query, err, auditlog.EInvalid, c.param)
			}
		})
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, seed := range []string{
		"", "action_type=service.update,cron_worker.*&outcome=failed&limit=10",
		"since=2026-11-24T00:00:00Z&until=2026-11-25T00:00:00-03:00", "range=24h&until=2026-11-25T00:00:00Z",
		"resource_type=service&resource_id=svc_1&project_id=p&actor_id=u&cursor=AQ", "limit=1000&limit=1000",
		"since=0000-01-01T00:00:00Z&until=9999-12-31T23:59:59.999999999+23:59", "action_type=a.b.c.d.*",
	} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, raw string, admin bool) {
		values, _ := url.ParseQuery(raw)
		p, err := api.ParseRead(values, now, admin)
		if err != nil {
			var e *auditlog.Error
			if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Param == "" || e.Message == "" {
				t.Fatalf("ParseRead(%q): %#v", raw, err)
			}
			return
		}
		f := p.Query.Filter
		if p.Query.Limit < 1 || p.Query.Limit > auditlog.MaxLimit {
			t.Fatalf("ParseRead(%q): limit %d", raw, p.Query.Limit)
		}
		if f.Since != nil && f.Until != nil && f.Since.After(*f.Until) {
			t.Fatalf("ParseRead(%q): since after until", raw)
		}
		for _, a := range f.Actions {
			if !auditlog.ValidAction(a) {
				t.Fatalf("ParseRead(%q): action %q", raw, a)
			}
		}
		for _, rt := range f.ResourceTypes {
			if !auditlog.ValidResourceType(rt) {
				t.Fatalf("ParseRead(%q): resource type %q", raw, rt)
			}
		}
		if f.Outcome != "" && !f.Outcome.Valid() {
			t.Fatalf("ParseRead(%q): outcome %q", raw, f.Outcome)
		}
		if _, ok := api.Ranges[p.Range]; p.Range != "" && !ok {
			t.Fatalf("ParseRead(%q): range %q", raw, p.Range)
		}
		if admin && f.ProjectID != "" {
			t.Fatalf("ParseRead(%q): admin trail took project_id from the query", raw)
		}
		_ = f.Key() // never panics
	})
}
