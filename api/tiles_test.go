package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/api"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/sqlite"
	"github.com/guaracloud/auditlog/storetest"
	"golang.org/x/mod/sumdb/tlog"
)

// TestMain drops the PostgreSQL template database the tile test makes.
func TestMain(m *testing.M) { pgtest.Main(m) }

// tileStore is a store the API can serve tiles from.
type tileStore interface {
	api.Store
	auditlog.Appender
	integrity.Store
	bundle.Source
}

// tileServer starts the API on store, with the tamper-evidence routes.
func tileServer(t *testing.T, store tileStore) *testServer {
	t.Helper()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	key, _, err := integrity.GenerateKey(testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := api.New(api.Config{Store: store, Writer: storetest.Writer(t, store), Now: func() time.Time { return now },
		Logs: api.OneLog(integrity.NewCheckpointer(store, key, testOrigin, ticking(now)), store)})
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: httptest.NewServer(srv.Handler()), api: srv, now: now}
	t.Cleanup(ts.Close)
	return ts
}

// httpTiles is a tlog.TileReader that fetches tiles from the API only,
// mapping tlog's tile/8/L/N[.p/W] to /tile/L/N[.p/W].
type httpTiles struct {
	t  *testing.T
	ts *testServer
}

func (h httpTiles) Height() int { return 8 }

func (h httpTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, tile := range tiles {
		res := h.ts.do(h.t, "GET", "/tile/"+strings.TrimPrefix(tile.Path(), "tile/8/"), "", nil)
		if res.Status != http.StatusOK {
			return nil, fmt.Errorf("%s: %d %s", tile.Path(), res.Status, res.Body)
		}
		out[i] = res.Body
	}
	return out, nil
}

func (h httpTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// TestTilesServeTheTree writes enough entries for tiles of level 1 (65,536
// leaves make one full) on each engine, then checks the tree through the
// API's tiles alone with x/mod's sumdb/tlog: the root of the signed
// checkpoint, and inclusion proofs of records.
func TestTilesServeTheTree(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		checkTiles(t, s)
	})
	t.Run("postgres", func(t *testing.T) {
		s, err := postgres.Open(context.Background(), pgtest.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		checkTiles(t, s)
	})
}

func checkTiles(t *testing.T, s tileStore) {
	ctx := context.Background()
	w := storetest.Writer(t, s)
	r := rand.New(rand.NewPCG(10, 3))
	batch := make([]auditlog.Event, 1000)
	for range 70 {
		for i := range batch {
			batch[i] = storetest.RandomEvent(r, "usr_ana")
		}
		storetest.Must(t, w, batch...)
	}
	storetest.Must(t, w, batch[:123]...) // 70,123 entries: level-0 tile 273 holds 235, level-1 tile 1 holds 17, level-2 tile 0 holds 1
	ts := tileServer(t, s)
	_, size, root, _ := signedHead(t, ts)
	if size != 70123 {
		t.Fatalf("checkpoint of %d entries, want 70123", size)
	}
	hr := tlog.TileHashReader(tlog.Tree{N: size, Hash: root}, httpTiles{t, ts})
	if got, err := tlog.TreeHash(size, hr); err != nil || got != root {
		t.Fatalf("tree hash from the tiles: %v %v, want %v", got, err, root)
	}
	for _, seq := range []int64{0, 255, 256, 65535, 65536, 69999, 70122} {
		rows, err := s.ScanLog(ctx, seq-1, 1)
		if err != nil || len(rows) != 1 {
			t.Fatalf("scan %d: %v", seq, err)
		}
		p, err := tlog.ProveRecord(size, seq, hr)
		if err != nil {
			t.Fatalf("prove %d from the tiles: %v", seq, err)
		}
		if err := tlog.CheckRecord(p, size, root, seq, tlog.RecordHash(rows[0].Canonical)); err != nil {
			t.Fatalf("record %d: %v", seq, err)
		}
	}

	// Headers, widths and refusals.
	full := ts.do(t, "GET", "/tile/1/000", "", nil)
	if full.Status != http.StatusOK || len(full.Body) != 256*32 || full.Header.Get("Content-Type") != "application/octet-stream" ||
		full.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("full tile 1/000: %d %d bytes %v", full.Status, len(full.Body), full.Header)
	}
	edge := ts.do(t, "GET", "/tile/0/273.p/235", "", nil)
	if edge.Status != http.StatusOK || len(edge.Body) != 235*32 || edge.Header.Get("Cache-Control") != "public, max-age=60" {
		t.Fatalf("partial tile 0/273.p/235: %d %d bytes %v", edge.Status, len(edge.Body), edge.Header)
	}
	narrow := ts.do(t, "GET", "/tile/0/273.p/7", "", nil)
	if narrow.Status != http.StatusOK || !bytes.Equal(narrow.Body, edge.Body[:7*32]) {
		t.Fatalf("narrower partial tile: %d %d bytes", narrow.Status, len(narrow.Body))
	}
	fullOfPartial := ts.do(t, "GET", "/tile/0/272.p/9", "", nil)
	if whole := ts.do(t, "GET", "/tile/0/272", "", nil); fullOfPartial.Status != http.StatusOK || !bytes.Equal(fullOfPartial.Body, whole.Body[:9*32]) {
		t.Fatalf("partial of a full tile: %d", fullOfPartial.Status)
	}
	if head := ts.do(t, "HEAD", "/tile/1/001.p/17", "", nil); head.Status != http.StatusOK || len(head.Body) != 0 || head.Header.Get("Content-Length") != "544" {
		t.Fatalf("HEAD: %d %v", head.Status, head.Header)
	}
	for path, status := range map[string]int{
		"/tile/0/273.p/236": 404, "/tile/0/273": 404, "/tile/0/274.p/1": 404, "/tile/1/001": 404, "/tile/2/000.p/2": 404, "/tile/3/000.p/1": 404,
		"/tile/entries/000": 404, "/tile/entries/000.p/5": 404,
		"/tile/0/0": 400, "/tile/0/273.p/0": 400, "/tile/0/273.p/256": 400, "/tile/0/x000/273": 400, "/tile/00/273": 400,
		"/tile/8/0/000": 400, "/tile/0/273.p/07": 400, "/tile/0/-01": 400, "/tile/0": 400, "/tile/0/273/": 400,
	} {
		res := ts.do(t, "GET", path, "", nil)
		var e api.ErrorResponse
		if res.Status != status || json.Unmarshal(res.Body, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d in the error shape", path, res.Status, res.Body, status)
		}
	}
	// The statuses are the documented ones.
	doc := mustDocument(t)
	responses := doc["paths"].(map[string]any)["/tile/{path}"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
	for _, code := range []string{"200", "400", "404", "503"} {
		if responses[code] == nil {
			t.Errorf("status %s of GET /tile/{path} is not documented", code)
		}
	}
}
