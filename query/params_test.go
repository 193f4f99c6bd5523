package query_test

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/query"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func mustTime(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return &t
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name  string
		query string
		admin bool
		want  query.Params
	}{
		{"Defaults", "", false, query.Params{Query: auditlog.Query{Limit: 50}}},
		{"EmptyValuesAreAbsent", "outcome=&limit=&since=&action_type=&range=&cursor=", false,
			query.Params{Query: auditlog.Query{Limit: 50}}},
		{"UnknownIgnored", "foo=bar&page=2", false, query.Params{Query: auditlog.Query{Limit: 50}}},
		{"ActionsCommaAndRepeated", "action_type=service.update,cron_worker.*&action_type=project.member.invite&action_type=service.update", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Actions: []string{"service.update", "project.member.invite"}, Families: []string{"cron_worker"}}}}},
		{"UnknownButWellFormedAction", "action_type=nothing.like_this", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Actions: []string{"nothing.like_this"}}}}},
		{"SubFamily", "action_type=project.member.*", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Families: []string{"project.member"}}}}},
		{"ResourceTypes", "resource_type=service,deploy&resource_type=service", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{ResourceTypes: []string{"service", "deploy"}}}}},
		{"Scalars", "resource_id=svc_1&project_id=prj_web&actor_id=usr_ana&outcome=failed&limit=1000", false,
			query.Params{Query: auditlog.Query{Limit: 1000, Filter: auditlog.Filter{
				ResourceID: "svc_1", ProjectID: "prj_web", ActorID: "usr_ana", Outcome: auditlog.Failed}}}},
		{"AdminIgnoresProjectID", "project_id=prj_web&actor_id=usr_bruno", true,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{ActorID: "usr_bruno"}}}},
		{"OutcomeAll", "outcome=all", false, query.Params{Query: auditlog.Query{Limit: 50}}},
		{"SameScalarTwice", "limit=7&limit=7", false, query.Params{Query: auditlog.Query{Limit: 7}}},
		{"SinceUntil", "since=2026-11-24T00:00:00-03:00&until=2026-11-25T00:00:00Z", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Since: mustTime("2026-11-24T00:00:00-03:00"), Until: mustTime("2026-11-25T00:00:00Z")}}}},
		{"SinceEqualsUntil", "since=2026-11-24T00:00:00Z&until=2026-11-24T00:00:00Z", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{
				Since: mustTime("2026-11-24T00:00:00Z"), Until: mustTime("2026-11-24T00:00:00Z")}}}},
		{"UnescapedPlusOffset", "since=2026-11-24T00:00:00+02:00", false, // '+' decodes to ' '
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00+02:00")}}}},
		{"LowercaseTZ", "since=2026-11-24t00:00:00z", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00Z")}}}},
		{"SubMicrosecondRoundsUp", "since=2026-11-24T00:00:00.0000001Z", false,
			query.Params{Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-24T00:00:00.000001Z")}}}},
		{"Range1h", "range=1h", false, query.Params{Range: "1h",
			Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-25T11:00:00Z")}}}},
		{"Range7dWithUntil", "range=7d&until=2026-11-25T00:00:00Z", false, query.Params{Range: "7d",
			Query: auditlog.Query{Limit: 50, Filter: auditlog.Filter{Since: mustTime("2026-11-18T12:00:00Z"), Until: mustTime("2026-11-25T00:00:00Z")}}}},
		{"Cursor", "cursor=abc", false, query.Params{Cursor: "abc", Query: auditlog.Query{Limit: 50}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			values, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := query.Parse(values, now, c.admin)
			if err != nil {
				t.Fatalf("Parse(%q): %v", c.query, err)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("Parse(%q) (-want +got):\n%s", c.query, diff)
			}
		})
	}
}

func TestParse_Err(t *testing.T) {
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
		{"since=2026-11-25T00:00:00,5Z", "since"},      // a comma fraction: Go's parser takes it, RFC 3339 does not
		{"until=2026-11-25T00:00:00%2B24:00", "until"}, // an offset past +23:59
		{"since=2026-11-25 00:00:00Z", "since"},        // a space for the T
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
			_, err = query.Parse(values, now, false)
			var e *auditlog.Error
			if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Param != c.param || e.Message == "" {
				t.Fatalf("Parse(%q) = %v; want %s on %s", c.query, err, auditlog.EInvalid, c.param)
			}
		})
	}
}

// items returns n distinct well-formed items: actions, or families when family is set.
func items(prefix string, n int, family bool) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d.update", prefix, i)
		if family {
			out[i] = fmt.Sprintf("%s%d.*", prefix, i)
		}
	}
	return out
}

// TestParse_ListBound: a list takes at most auditlog.MaxListItems items,
// counted as sent after splitting commas and repeats; one more is an
// invalid_parameter error naming the list, whatever the way it is sent.
func TestParse_ListBound(t *testing.T) {
	if auditlog.MaxListItems != 50 {
		t.Fatalf("MaxListItems = %d; the README documents 50", auditlog.MaxListItems)
	}
	comma := func(name string, xs []string) url.Values { return url.Values{name: {strings.Join(xs, ",")}} }
	repeat := func(name string, xs []string) url.Values { return url.Values{name: xs} }
	mixed := func(name string, xs []string) url.Values {
		return url.Values{name: {strings.Join(xs[:len(xs)/2], ","), strings.Join(xs[len(xs)/2:], ",")}}
	}
	types := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("type_%d", i)
		}
		return out
	}
	lists := map[string]func(n int) []string{
		"action_type":   func(n int) []string { return items("act", n, false) },
		"resource_type": types,
	}
	for name, gen := range lists {
		for how, build := range map[string]func(string, []string) url.Values{"comma": comma, "repeat": repeat, "mixed": mixed} {
			t.Run(name+"/"+how+"/OK50", func(t *testing.T) {
				p, err := query.Parse(build(name, gen(50)), now, false)
				if err != nil {
					t.Fatal(err)
				}
				if got := len(p.Query.Filter.Actions) + len(p.Query.Filter.ResourceTypes); got != 50 {
					t.Fatalf("%d items parsed, want 50", got)
				}
			})
			t.Run(name+"/"+how+"/Err51", func(t *testing.T) {
				_, err := query.Parse(build(name, gen(51)), now, false)
				wantParamError(t, err, name)
				if !strings.Contains(auditlog.ErrorMessage(err), "at most 50 items") {
					t.Fatalf("message %q does not state the bound", auditlog.ErrorMessage(err))
				}
			})
		}
	}
	t.Run("Families50", func(t *testing.T) {
		p, err := query.Parse(comma("action_type", items("fam", 50, true)), now, false)
		if err != nil || len(p.Query.Filter.Families) != 50 {
			t.Fatalf("%d families, %v", len(p.Query.Filter.Families), err)
		}
	})
	t.Run("ActionsAndFamiliesShareTheBound", func(t *testing.T) {
		v := url.Values{"action_type": {strings.Join(items("act", 25, false), ","), strings.Join(items("fam", 26, true), ",")}}
		_, err := query.Parse(v, now, false)
		wantParamError(t, err, "action_type")
	})
	t.Run("RepeatedItemsCountEachTime", func(t *testing.T) {
		_, err := query.Parse(comma("action_type", slices.Repeat([]string{"service.update"}, 51)), now, false)
		wantParamError(t, err, "action_type")
	})
	t.Run("EmptyItemsCount", func(t *testing.T) {
		_, err := query.Parse(comma("resource_type", make([]string, 60)), now, false)
		wantParamError(t, err, "resource_type")
	})
	t.Run("Reproductions", func(t *testing.T) {
		// The hostile run's inputs: 998 families, 40,000 actions, 60,000 items.
		for _, v := range []url.Values{
			comma("action_type", items("f", 998, true)),
			comma("action_type", items("a", 40000, false)),
			repeat("action_type", items("a", 40000, false)),
			comma("resource_type", types(60000)),
		} {
			for _, name := range []string{"action_type", "resource_type"} {
				if len(v[name]) > 0 {
					_, err := query.Parse(v, now, false)
					wantParamError(t, err, name)
				}
			}
		}
	})
	t.Run("ListStopsAtTheBound", func(t *testing.T) {
		got, err := query.List(comma("action_type", items("a", 40000, false)), "action_type")
		wantParamError(t, err, "action_type")
		if !slices.Equal(got, items("a", 50, false)) {
			t.Fatalf("List returned %d items with its error, want the first 50", len(got))
		}
	})
}

// TestParse_ValueBound: every value of a read parameter is at most
// MaxValueLen bytes; longer is an invalid_parameter error naming it.
func TestParse_ValueBound(t *testing.T) {
	long := strings.Repeat("a", query.MaxValueLen+1)
	for _, name := range []string{"action_type", "resource_type", "resource_id", "project_id", "actor_id",
		"outcome", "since", "until", "range", "limit", "cursor"} {
		t.Run(name, func(t *testing.T) {
			_, err := query.Parse(url.Values{name: {long}}, now, false)
			wantParamError(t, err, name)
			if !strings.Contains(auditlog.ErrorMessage(err), "too long") {
				t.Fatalf("message %q", auditlog.ErrorMessage(err))
			}
		})
	}
	// The longest list the bound allows still fits in one value.
	var longest []string
	for i := range auditlog.MaxListItems {
		longest = append(longest, fmt.Sprintf("%03d.%s", i, strings.Repeat("x", auditlog.MaxActionLen-4)))
	}
	if _, err := query.Parse(url.Values{"action_type": {strings.Join(longest, ",")}}, now, false); err != nil {
		t.Fatalf("50 actions of %d bytes in one value: %v", auditlog.MaxActionLen, err)
	}
}

func TestValues(t *testing.T) {
	for _, c := range []struct{ raw, param string }{
		{"since=%zz", "since"},
		{"outcome=failed;x=1", "outcome"},
		{"action_type=a.b&cursor=%", "cursor"},
	} {
		_, err := query.Values(c.raw)
		wantParamError(t, err, c.param)
	}
	for _, raw := range []string{"", "a=%zz&outcome=failed", "x;y=1&limit=5", "limit=5&limit=5"} {
		if _, err := query.Values(raw); err != nil {
			t.Errorf("Values(%q): %v", raw, err)
		}
	}
	if d, ok := query.RangePreset("24h"); !ok || d != 24*time.Hour {
		t.Fatal("24h is not a preset")
	}
	if _, ok := query.RangePreset("2w"); ok {
		t.Fatal("2w is a preset")
	}
}

func wantParamError(t *testing.T, err error, param string) {
	t.Helper()
	var e *auditlog.Error
	if !errors.As(err, &e) || e.Code != auditlog.EInvalid || e.Param != param || e.Message == "" {
		t.Fatalf("got %v; want %s on %s", err, auditlog.EInvalid, param)
	}
}

// BenchmarkParse measures reading a query string at the bound and the
// hostile run's inputs far past it: refusing them costs no more than reading
// the bound's worth of items.
func BenchmarkParse(b *testing.B) {
	for _, c := range []struct{ name, raw string }{
		{"50Families", "action_type=" + strings.Join(items("f", 50, true), ",") + "&outcome=failed&range=24h"},
		{"998Families", "action_type=" + strings.Join(items("f", 998, true), ",")},
		{"20000Families", "action_type=" + strings.Join(items("f", 20000, true), ",")},
		{"40000Actions", "action_type=" + strings.Join(items("a", 40000, false), ",")},
		{"40000RepeatedActions", "action_type=" + strings.Join(items("a", 40000, false), "&action_type=")},
		{"1MiBValue", "resource_id=" + strings.Repeat("x", 1<<20)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.raw)))
			for b.Loop() {
				if v, err := query.Values(c.raw); err == nil {
					query.Parse(v, now, false)
				}
			}
		})
	}
}
