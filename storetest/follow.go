package storetest

import (
	"cmp"
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// FollowAll follows the scope's entries matching f from afterSeq, a page of
// limit at a time, until a page is not full; it checks every page (ascending
// seqs after the position, at most limit, the position only moving forward)
// and returns the entries and the seq the last read reached.
func FollowAll(t testing.TB, s auditlog.Reader, scope auditlog.Scope, f auditlog.Filter, afterSeq int64, limit int) ([]auditlog.Entry, int64) {
	t.Helper()
	var all []auditlog.Entry
	for range 100000 {
		page, through, err := s.Follow(context.Background(), scope, f, afterSeq, limit)
		if err != nil {
			t.Fatalf("follow: %v", err)
		}
		if len(page) > limit {
			t.Fatalf("follow: %d entries for limit %d", len(page), limit)
		}
		last := afterSeq
		for _, e := range page {
			if e.Seq <= last {
				t.Fatalf("follow after %d: seq %d after %d", afterSeq, e.Seq, last)
			}
			last = e.Seq
		}
		if through < last {
			t.Fatalf("follow after %d: reached %d, before its last entry %d", afterSeq, through, last)
		}
		all, afterSeq = append(all, page...), through
		if len(page) < limit {
			return all, through
		}
	}
	t.Fatal("follow does not end")
	return nil, 0
}

// expectBySeq is Expect in commit order.
func expectBySeq(all []auditlog.Entry, scope auditlog.Scope, f auditlog.Filter) []string {
	seq := map[string]int64{}
	for _, e := range all {
		seq[e.ID] = e.Seq
	}
	want := Expect(all, scope, f)
	slices.SortFunc(want, func(a, b string) int { return cmp.Compare(seq[a], seq[b]) })
	return want
}

func testFollow(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(11, 11))
	all := seed(t, s, r, 400) // random occurred_at: commit order is not time order
	ctx := context.Background()
	if err := s.SetProjectOwner(ctx, "prj_api", "usr_carla"); err != nil {
		t.Fatal(err)
	}
	head := all[len(all)-1].Seq
	trail := auditlog.ProjectScope("prj_api", "usr_carla")
	scopes := []auditlog.Scope{trail}
	for _, u := range users {
		scopes = append(scopes, auditlog.UserScope(u))
	}

	t.Run("EveryMatchOnceInSeqOrder", func(t *testing.T) {
		check := func(scope auditlog.Scope, f auditlog.Filter, limit int) {
			t.Helper()
			got, through := FollowAll(t, s, scope, f, -1, limit)
			if want := expectBySeq(all, scope, f); !slices.Equal(ids(got), want) {
				t.Fatalf("%+v filter %s limit %d: got %d entries, want %d", scope, f.Key(), limit, len(got), len(want))
			}
			if through != head {
				t.Fatalf("%+v filter %s: reached %d, want the head %d", scope, f.Key(), through, head)
			}
		}
		for _, scope := range scopes {
			check(scope, auditlog.Filter{}, 1+r.IntN(60))
			check(scope, auditlog.Filter{ActorID: "usr_bruno"}, 7)
		}
		for range 60 {
			check(scopes[r.IntN(len(scopes))], RandomFilter(r), 1+r.IntN(60))
		}
	})
	t.Run("FromAPosition", func(t *testing.T) {
		after := all[len(all)/2].Seq
		var rest []auditlog.Entry
		for _, e := range all {
			if e.Seq > after {
				rest = append(rest, e)
			}
		}
		for _, scope := range scopes {
			got, _ := FollowAll(t, s, scope, auditlog.Filter{}, after, 9)
			if want := expectBySeq(rest, scope, auditlog.Filter{}); !slices.Equal(ids(got), want) {
				t.Fatalf("%+v after %d: got %d entries, want %d", scope, after, len(got), len(want))
			}
		}
	})
	t.Run("ReachesTheHeadWhenNothingMatches", func(t *testing.T) {
		got, through, err := s.Follow(ctx, auditlog.UserScope("usr_ana"), auditlog.Filter{Actions: []string{"nothing.here"}}, -1, 10)
		if err != nil || len(got) != 0 || through != head {
			t.Fatalf("got %d entries, reached %d (%v); want none, reached the head %d", len(got), through, err, head)
		}
		got, through, err = s.Follow(ctx, auditlog.UserScope("nobody"), auditlog.Filter{}, head+10, 10)
		if err != nil || len(got) != 0 || through != head+10 {
			t.Fatalf("after the head: got %d entries, reached %d (%v)", len(got), through, err)
		}
	})
	t.Run("Limit", func(t *testing.T) {
		for _, limit := range []int{0, -1, auditlog.MaxLimit + 1} {
			got, through, err := s.Follow(ctx, trail, auditlog.Filter{}, -1, limit)
			if err != nil || len(got) != auditlog.DefaultLimit || through != got[len(got)-1].Seq {
				t.Fatalf("limit %d: %d entries, reached %d (%v); want a full default page", limit, len(got), through, err)
			}
		}
	})
	t.Run("LateAndBurst", func(t *testing.T) {
		// A burst larger than a page, then an entry a spool delivers late:
		// older than everything, committed last. Following from the head
		// returns all of them once, in commit order.
		w := Writer(t, s)
		var want []string
		for range 3 {
			batch := make([]auditlog.Event, 41)
			for i := range batch {
				batch[i] = RandomEvent(r, "usr_ana")
			}
			want = append(want, ids(Must(t, w, batch...))...)
		}
		late := RandomEvent(r, "usr_ana")
		late.OccurredAt = Base.Add(-400 * 24 * time.Hour)
		want = append(want, Must(t, w, late)[0].ID)
		got, _ := FollowAll(t, s, auditlog.UserScope("usr_ana"), auditlog.Filter{}, head, 50)
		if !slices.Equal(ids(got), want) {
			t.Fatalf("after the head: got %d entries, want the %d written since, in order", len(got), len(want))
		}
	})
	t.Run("Scope", func(t *testing.T) {
		for _, c := range []struct {
			scope auditlog.Scope
			code  string
		}{
			{auditlog.ProjectScope("prj_api", "usr_ana"), auditlog.ENotFound},
			{auditlog.ProjectScope("prj_nowhere", "usr_carla"), auditlog.ENotFound},
			{auditlog.UserScope(""), auditlog.EUnauthorized},
		} {
			if _, _, err := s.Follow(ctx, c.scope, auditlog.Filter{}, -1, 10); auditlog.ErrorCode(err) != c.code {
				t.Fatalf("%+v: %v, want %s", c.scope, err, c.code)
			}
		}
	})
}
