package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

// legacyDepth is the deepest metadata a store can hold from before ingest
// capped nesting: the API decoded requests with encoding/json, whose limit of
// 10,000 levels counts the event object too. Encoded as nested arrays it
// takes about 20 KB, the size of the entry that once made a 400 MB page.
const legacyDepth = 9_999

// shape is a kind of metadata the dashboard must render within its budget.
type shape struct {
	name     string
	tag      int // distinguishes the ids of each shape's entries
	metadata func(i int) map[string]any
}

// shapes are the largest entries the dashboard can meet: 64 KiB of wide
// metadata, 64 KiB of branches nested 32 levels deep (the ingest limit),
// and the legacy entry nested 9,999 levels deep.
var shapes = []shape{
	{"wide64KiB", 1, wideMetadata},
	{"depth32", 2, deep32Metadata},
	{"legacy9999", 3, legacyMetadata},
}

// encodedLen is the length of v as ingest measures it (json.Marshal).
func encodedLen(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return len(b)
}

// fill adds members made by next to md until one more would push md over
// auditlog.MaxMetadataSize, the largest metadata ingest accepts.
func fill(md map[string]any, next func(n int) (string, any)) map[string]any {
	size := encodedLen(md)
	for n := 0; ; n++ {
		k, v := next(n)
		add := encodedLen(k) + 1 + encodedLen(v) + 1 // "k":v,
		if size+add > auditlog.MaxMetadataSize {
			return md
		}
		md[k], size = v, size+add
	}
}

// wideMetadata is 64 KiB of metadata meant to swell when escaped and
// marked: a 40-field diff, HTML-special text, masked values, nested
// settings (dotted paths) and long strings.
func wideMetadata(i int) map[string]any {
	diff := map[string]any{}
	for n := range 40 {
		diff[fmt.Sprintf("setting_%02d", n)] = map[string]any{"from": fmt.Sprintf(`"<old %d>" & 'x'`, n), "to": "[REDACTED:email]"}
	}
	md := map[string]any{"diff": diff, "error": map[string]any{"code": "too_big", "message": strings.Repeat(`<&"> `, 200)}}
	return fill(md, func(n int) (string, any) {
		k := fmt.Sprintf("f%d_%05d", i%10, n)
		switch n % 4 {
		case 0:
			return k, "[REDACTED:email] and [REDACTED]"
		case 1:
			return k, `<a href="x">&'"</a>`
		case 2:
			return k, map[string]any{"svc": map[string]any{"env": map[string]any{"KEY": "[REDACTED]", "n": n}}}
		}
		return k, strings.Repeat("long value ", 30)
	})
}

// chain nests v under key depth times.
func chain(key string, depth int, v any) any {
	for range depth {
		v = map[string]any{key: v}
	}
	return v
}

// deep32Metadata is 64 KiB of branches that each reach the deepest level
// ingest accepts (the metadata object is level 1, the leaf level 32).
func deep32Metadata(i int) map[string]any {
	return fill(map[string]any{}, func(n int) (string, any) {
		return fmt.Sprintf("b%d_%04d", i%10, n), chain("level", auditlog.MaxMetadataDepth-1, "[REDACTED:secret]")
	})
}

// legacyMetadata is the deep entry of issue 9: about 20 KB of arrays nested
// legacyDepth levels deep, which ingest now refuses.
func legacyMetadata(int) map[string]any {
	var v any = "bottom"
	for range legacyDepth - 1 {
		v = []any{v}
	}
	return map[string]any{"deep": v}
}

// storeShape writes n entries of a shape for actor straight through the
// store, as entries stored before the ingest cap would be, and returns
// their ids, newest first (the page's order).
func (e *env) storeShape(t testing.TB, s shape, actor string, n int) []string {
	t.Helper()
	project := "prj_" + s.name
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	ip := "203.0.113.0"
	now := e.clock.Now()
	batch := make([]auditlog.Pending, 0, n)
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("0198c0de-%04d-7000-8000-%012d", s.tag, i)
		ids[n-1-i] = id
		batch = append(batch, auditlog.Pending{Fingerprint: sha256.Sum256([]byte(id)), Entry: auditlog.Entry{
			ID: id, Action: "service.update", ResourceType: "service", ResourceID: fmt.Sprintf("svc_%s_%d", s.name, i),
			ActorID: actor, ProjectID: &project, Outcome: auditlog.Success, IP: &ip, UserAgent: &ua,
			OccurredAt: now.Add(time.Duration(i-n) * time.Second), Metadata: s.metadata(i),
		}})
	}
	res, err := e.store.Commit(context.Background(), [][]auditlog.Pending{batch}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil {
		t.Fatal(res[0].Err)
	}
	return ids
}
