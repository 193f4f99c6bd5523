package clustertest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Entry is the part of a served entry the checkers look at.
type Entry struct {
	ID         string  `json:"id"`
	Seq        int64   `json:"seq"`
	ActorID    string  `json:"actor_id"`
	ProjectID  *string `json:"project_id"`
	OccurredAt string  `json:"occurred_at"`
}

// Page is one page of a list endpoint.
type Page struct {
	Data       []Entry `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

var httpClient = &http.Client{Timeout: 15 * time.Second}

// Get sends GET base+path with the bearer token and returns the status and
// body (at most 16 MiB); a transport error is returned as is.
func Get(ctx context.Context, base, path, token string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("clustertest.Get: %w", err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("clustertest.Get %s: %w", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return res.StatusCode, nil, fmt.Errorf("clustertest.Get %s: %w", path, err)
	}
	return res.StatusCode, body, nil
}

// CheckReadable reads every acknowledged id back with GET
// /v1/audit-logs/{id} and its actor's user token, from the nodes in turn,
// retrying 404s, 5xx and transport errors until within (the backlog may
// still be committing). It fails the test for every id still unreadable
// then, and for an entry served with another id or actor.
func CheckReadable(tb testing.TB, urls []string, tokens map[string]string, acks []Ack, within time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(within)
	work := make(chan Ack)
	var mu sync.Mutex
	var missing []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				a, ok := <-work
				if !ok {
					return
				}
				if msg := readOne(urls, i, tokens[a.Actor], a, deadline); msg != "" {
					mu.Lock()
					missing = append(missing, msg)
					mu.Unlock()
				}
			}
		}()
	}
	for _, a := range acks {
		work <- a
	}
	close(work)
	wg.Wait()
	sort.Strings(missing)
	for i, m := range missing {
		if i == 20 {
			tb.Errorf("... and %d more", len(missing)-20)
			break
		}
		tb.Errorf("acknowledged event not readable: %s", m)
	}
	if len(missing) == 0 {
		tb.Logf("clustertest: all %d acknowledged events read back", len(acks))
	}
}

// readOne reads one acknowledged id until deadline; it returns "" once read, else why not.
func readOne(urls []string, i int, token string, a Ack, deadline time.Time) string {
	last := "never tried"
	for try := 0; ; try++ {
		status, body, err := Get(context.Background(), urls[(i+try)%len(urls)], "/v1/audit-logs/"+url.PathEscape(a.ID), token)
		switch {
		case err != nil:
			last = err.Error()
		case status == http.StatusOK:
			var e Entry
			if jerr := json.Unmarshal(body, &e); jerr != nil || e.ID != a.ID || e.ActorID != a.Actor {
				return fmt.Sprintf("%s (actor %s, %d): served %s (%v)", a.ID, a.Actor, a.Status, tail(string(body), 200), jerr)
			}
			return ""
		default:
			last = fmt.Sprintf("%d %s", status, tail(string(body), 200))
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("%s (actor %s, shard %d, answered %d): last %s", a.ID, a.Actor, a.Shard, a.Status, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// WalkList walks a list endpoint (path with its query, without cursor)
// with the token until next_cursor is null and returns every entry in
// order; it fails the test on an error status or past 10,000 pages.
func WalkList(tb testing.TB, base, path, token string) []Entry {
	tb.Helper()
	var out []Entry
	cursor := ""
	for range 10000 {
		p := path
		if cursor != "" {
			p += "&cursor=" + url.QueryEscape(cursor)
		}
		status, body, err := Get(context.Background(), base, p, token)
		if err != nil || status != http.StatusOK {
			tb.Fatalf("clustertest: GET %s: %d %v %s", p, status, err, tail(string(body), 300))
		}
		var page Page
		if err := json.Unmarshal(body, &page); err != nil {
			tb.Fatalf("clustertest: GET %s: %v", p, err)
		}
		out = append(out, page.Data...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return out
		}
		cursor = *page.NextCursor
	}
	tb.Fatalf("clustertest: %s: more than 10,000 pages", path)
	return nil
}

// CheckNewestFirst fails the test unless entries are strictly newest first
// (occurred_at descending, then id descending), the contract's list order.
func CheckNewestFirst(tb testing.TB, what string, entries []Entry) {
	tb.Helper()
	for i := 1; i < len(entries); i++ {
		a, b := entries[i-1], entries[i]
		ta, erra := time.Parse(time.RFC3339Nano, a.OccurredAt)
		tbb, errb := time.Parse(time.RFC3339Nano, b.OccurredAt)
		if erra != nil || errb != nil {
			tb.Fatalf("%s: unparsable occurred_at %q or %q", what, a.OccurredAt, b.OccurredAt)
		}
		if ta.Before(tbb) || (ta.Equal(tbb) && a.ID <= b.ID) {
			tb.Errorf("%s: entry %d (%s %s) is not older than entry %d (%s %s)", what, i, b.OccurredAt, b.ID, i-1, a.OccurredAt, a.ID)
			return
		}
	}
}

// CheckListsExactlyOnce walks every actor's own list (GET /v1/audit-logs,
// limit 1000) and fails the test unless each acknowledged id of the actor
// appears exactly once, nothing appears twice, every entry is the actor's,
// and the order is newest first.
func CheckListsExactlyOnce(tb testing.TB, base string, tokens map[string]string, acks []Ack) {
	tb.Helper()
	want := map[string]map[string]bool{}
	for _, a := range acks {
		if want[a.Actor] == nil {
			want[a.Actor] = map[string]bool{}
		}
		want[a.Actor][a.ID] = true
	}
	for actor, token := range tokens {
		entries := WalkList(tb, base, "/v1/audit-logs?limit=1000", token)
		seen := map[string]int{}
		for _, e := range entries {
			seen[e.ID]++
			if e.ActorID != actor {
				tb.Errorf("actor %s's list holds %s of actor %s", actor, e.ID, e.ActorID)
			}
		}
		for id, n := range seen {
			if n > 1 {
				tb.Errorf("actor %s's list holds %s %d times", actor, id, n)
			}
		}
		for id := range want[actor] {
			if seen[id] != 1 {
				tb.Errorf("actor %s's list holds acknowledged %s %d times, want once", actor, id, seen[id])
			}
		}
		CheckNewestFirst(tb, "actor "+actor+"'s list", entries)
	}
}

// ShardState is what one shard database holds, read directly.
type ShardState struct {
	Entries, MaxSeq, DistinctSeqs, DistinctIDs, EntryIDs, NextSeq int64
}

// CheckShardDatabases queries each shard database directly and fails the
// test unless its seqs are dense (count = max(seq)+1, no seq or id twice,
// the id index and the next seq agree) and every acknowledged id is stored
// in its actor's shard and no other. It returns each shard's state.
func CheckShardDatabases(tb testing.TB, dsns []string, acks []Ack) []ShardState {
	tb.Helper()
	states := make([]ShardState, len(dsns))
	byShard := make([][]string, len(dsns))
	all := make([]string, 0, len(acks))
	for _, a := range acks {
		all = append(all, a.ID)
	}
	for k, dsn := range dsns {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			cancel()
			tb.Fatalf("clustertest: shard %d: connect: %v", k, err)
		}
		s := &states[k]
		err = conn.QueryRow(ctx, `SELECT count(*), coalesce(max(seq), -1), count(DISTINCT seq), count(DISTINCT id) FROM entries`).
			Scan(&s.Entries, &s.MaxSeq, &s.DistinctSeqs, &s.DistinctIDs)
		if err == nil {
			err = conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM entry_ids), (SELECT next_seq FROM log_state)`).Scan(&s.EntryIDs, &s.NextSeq)
		}
		if err == nil {
			var rows pgx.Rows
			rows, err = conn.Query(ctx, `SELECT id FROM entry_ids WHERE id = ANY($1)`, all)
			if err == nil {
				byShard[k], err = pgx.CollectRows(rows, pgx.RowTo[string])
			}
		}
		conn.Close(ctx)
		cancel()
		if err != nil {
			tb.Fatalf("clustertest: shard %d: query: %v", k, err)
		}
		if s.Entries != s.MaxSeq+1 || s.DistinctSeqs != s.Entries || s.DistinctIDs != s.Entries || s.EntryIDs != s.Entries || s.NextSeq != s.Entries {
			tb.Errorf("shard %d: seqs not dense: %+v", k, *s)
		} else {
			tb.Logf("clustertest: shard %d holds %d entries, seqs 0..%d dense", k, s.Entries, s.MaxSeq)
		}
	}
	where := map[string][]int{}
	for k, ids := range byShard {
		for _, id := range ids {
			where[id] = append(where[id], k)
		}
	}
	bad := 0
	for _, a := range acks {
		if got := where[a.ID]; len(got) != 1 || got[0] != a.Shard {
			if bad++; bad <= 20 {
				tb.Errorf("acknowledged %s (actor %s) is stored in shards %v, want only %d", a.ID, a.Actor, got, a.Shard)
			}
		}
	}
	return states
}

// CheckVerify runs `auditlog verify --db DSN` on each shard database and
// fails the test for each one that does not exit 0.
func CheckVerify(tb testing.TB, bin string, dsns []string) {
	tb.Helper()
	for k, dsn := range dsns {
		if r := Run(tb, bin, "verify", "--db", dsn); r.Code != 0 {
			tb.Errorf("auditlog verify --db <shard %d> exited %d:\nstdout: %s\nstderr: %s", k, r.Code, r.Stdout, r.Stderr)
		}
	}
}
