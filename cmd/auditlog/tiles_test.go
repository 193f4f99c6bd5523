package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// servedTiles reads hash tiles from serve's own listener, as any tlog-tiles
// client would: tlog's tile/8/L/N paths map to /tile/L/N.
type servedTiles struct {
	t  *testing.T
	ts *testServer
}

func (servedTiles) Height() int { return 8 }

func (s servedTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		res := s.ts.do("GET", "/tile/"+strings.TrimPrefix(tile.Path(), "tile/8/"), "", nil)
		if res.Status != http.StatusOK || res.Header.Get("Content-Type") != "application/octet-stream" {
			return nil, fmt.Errorf("GET %s: %d %s", tile.Path(), res.Status, res.Body)
		}
		out[i] = res.Body
	}
	return out, nil
}

func (servedTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// checkServedTiles verifies the signed tree of the given size and root from
// the tiles `serve` publishes, with x/mod's sumdb/tlog only.
func checkServedTiles(t *testing.T, ts *testServer, size int64, root tlog.Hash) {
	t.Helper()
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, servedTiles{t, ts})
	got, err := tlog.TreeHash(size, hr)
	if err != nil || got != root {
		t.Fatalf("tree %d from the served tiles: %v (root %x, want %x)", size, err, got, root)
	}
	for _, seq := range []int64{0, size / 2, size - 1} {
		p, err := tlog.ProveRecord(size, seq, hr)
		if err != nil {
			t.Fatalf("prove record %d from the served tiles: %v", seq, err)
		}
		leaf, err := hr.ReadHashes([]int64{tlog.StoredHashIndex(0, seq)})
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, size, root, seq, leaf[0]); err != nil {
			t.Fatalf("record %d: %v", seq, err)
		}
	}
}

// TestServeServesTiles: `serve` publishes the hash tiles at /tile/..., public,
// next to /v1/checkpoint (not swallowed by the dashboard), and they verify
// against the signed checkpoint.
func TestServeServesTiles(t *testing.T) {
	ts := MustStart(t)
	v := publishedVerifier(t, ts)
	var events []map[string]any
	for i := range 300 { // a full level-0 tile and a partial one
		events = append(events, map[string]any{"action": "service.update", "resource_type": "service",
			"resource_id": fmt.Sprintf("svc_%d", i), "actor_id": "usr_ana", "outcome": "success"})
	}
	ts.mustPost(events...)
	size, root := signedCheckpoint(t, ts, v)
	if size != 300 {
		t.Fatalf("checkpoint size %d", size)
	}
	checkServedTiles(t, ts, size, root)
	if res := ts.do("GET", "/tile/entries/000", "", nil); res.Status != http.StatusNotFound {
		t.Fatalf("entry bundles: %d %s", res.Status, res.Body)
	}
}
