package integrity_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"golang.org/x/mod/sumdb/tlog"
)

// memTiles is a TileReader over the tiles ExtendTiles returned.
type memTiles map[[2]uint64][]byte

func (m memTiles) Tiles(_ context.Context, ids []integrity.TileID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = m[[2]uint64{uint64(id.Level), id.Index}]
	}
	return out, nil
}

// tlogPath is sumdb/tlog's path of a tile, without its tile/8/ prefix.
func tlogPath(id integrity.TileID) string {
	return strings.TrimPrefix(tlog.Tile{H: 8, L: int(id.Level), N: int64(id.Index), W: int(id.Width)}.Path(), "tile/8/")
}

func TestTilePathsAreTlogs(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	ids := []integrity.TileID{
		{Level: 0, Index: 0, Width: 256}, {Level: 0, Index: 0, Width: 1}, {Level: 1, Index: 999, Width: 255},
		{Level: 0, Index: 1000, Width: 256}, {Level: 2, Index: 1234067, Width: 17}, {Level: 0, Index: 1<<56 - 1, Width: 256},
		{Level: 7, Index: 0, Width: 3},
	}
	for range 200 {
		level := uint(r.IntN(8))
		ids = append(ids, integrity.TileID{Level: level, Index: r.Uint64N(uint64(1) << (56 - 8*level)), Width: 1 + uint(r.IntN(256))})
	}
	for _, id := range ids {
		p := id.Path()
		if want := tlogPath(id); id.Index < 1<<63 && p != want {
			t.Fatalf("%+v: path %q, sumdb/tlog says %q", id, p, want)
		}
		back, err := integrity.ParseTilePath(p)
		if err != nil || back != id {
			t.Fatalf("%q parses to %+v: %v", p, back, err)
		}
	}
	if p := (integrity.TileID{Level: 2, Index: 1234067, Width: 17}).Path(); p != "2/x001/x234/067.p/17" {
		t.Fatalf("path %q", p)
	}
}

// badTilePaths are paths ParseTilePath refuses: another spelling of a
// tile, or no tile of a tree of up to 2^64 leaves.
var badTilePaths = []string{
	"", "0", "0/", "/0/000", "0/000/", "0/0", "0/00", "0/0000", "00/000", "01/000", "8/000", "-1/000", "0/-01",
	"0/x000/001", "0/001/002", "0/x1/002", "0/xx01/002", "0/x001", "0/x001/x002", "0/000.p", "0/000.p/", "0/000.p/0",
	"0/000.p/256", "0/000.p/01", "0/000.p/1/2", "0/000.p/1.p/2", "0/.p/1", "0/x001.p/3/004", "0/000.q/1", "0/ 00",
	"0/+01", "entries/000", "7/001", "0/x072/x057/x594/x037/x927/936", "1/x000/000", "0/000.p/+1", "0/1e2",
}

func TestParseTilePathRefuses(t *testing.T) {
	for _, p := range badTilePaths {
		if id, err := integrity.ParseTilePath(p); err == nil {
			t.Errorf("%q parsed to %+v", p, id)
		}
	}
	// The largest index of each level parses; one more does not.
	for level := uint(0); level <= integrity.MaxTileLevel; level++ {
		last := integrity.TileID{Level: level, Index: uint64(1)<<(56-8*level) - 1, Width: 256}
		if _, err := integrity.ParseTilePath(last.Path()); err != nil {
			t.Errorf("%s: %v", last.Path(), err)
		}
		last.Index++
		if _, err := integrity.ParseTilePath(last.Path()); err == nil {
			t.Errorf("%s parsed", last.Path())
		}
	}
}

func FuzzParseTilePath(f *testing.F) {
	for _, p := range append(badTilePaths, "0/000", "1/000.p/17", "2/x001/x234/067.p/17", "0/x072/x057/x594/x037/x927/935", "7/000.p/1") {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		id, err := integrity.ParseTilePath(p)
		if err != nil {
			return
		}
		// One spelling per tile, sumdb/tlog's.
		if id.Path() != p || tlogPath(id) != p {
			t.Fatalf("%q parsed to %+v, written %q (sumdb/tlog: %q)", p, id, id.Path(), tlogPath(id))
		}
		if id.Level > integrity.MaxTileLevel || id.Width < 1 || id.Width > 256 || id.Index >= uint64(1)<<(56-8*id.Level) {
			t.Fatalf("%q parsed to an impossible tile %+v", p, id)
		}
	})
}

func TestEdgeTiles(t *testing.T) {
	for _, c := range []struct {
		size uint64
		want []integrity.TileID
	}{
		{0, nil},
		{1, []integrity.TileID{{Level: 0, Index: 0, Width: 1}}},
		{256, []integrity.TileID{{Level: 1, Index: 0, Width: 1}}},
		{300, []integrity.TileID{{Level: 0, Index: 1, Width: 44}, {Level: 1, Index: 0, Width: 1}}},
		{65536, []integrity.TileID{{Level: 2, Index: 0, Width: 1}}},
		{70123, []integrity.TileID{{Level: 0, Index: 273, Width: 235}, {Level: 1, Index: 1, Width: 17}, {Level: 2, Index: 0, Width: 1}}},
	} {
		if got := integrity.EdgeTiles(c.size); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("EdgeTiles(%d) = %v, want %v", c.size, got, c.want)
		}
	}
}

// growTiles extends a tree over n records in random chunks, as a store
// would, checking that each step returns only the tiles it changes, partial
// ones grown by appending; it returns the records, the tiles and the state.
func growTiles(t *testing.T, n int, maxChunk int, seed uint64) ([][]byte, memTiles, integrity.TreeState) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	records := make([][]byte, n)
	for i := range records {
		records[i] = fmt.Appendf(nil, `{"id":"e%d","seq":%d,"n":%d}`, i, i, r.IntN(1000))
	}
	tiles := memTiles{}
	var st integrity.TreeState
	for done := 0; done < n; {
		k := min(n-done, 1+r.IntN(maxChunk))
		edges, err := integrity.ReadEdgeTiles(context.Background(), tiles, st.Size)
		if err != nil {
			t.Fatal(err)
		}
		next, changed, err := st.ExtendTiles(edges, records[done:done+k])
		if err != nil {
			t.Fatal(err)
		}
		for _, tile := range changed {
			key := [2]uint64{uint64(tile.ID.Level), tile.ID.Index}
			old := tiles[key]
			if uint(len(old)/32) != tile.Extends || !bytes.HasPrefix(tile.Hashes, old) || len(tile.Hashes) <= len(old) ||
				len(tile.Hashes) != int(tile.ID.Width)*32 {
				t.Fatalf("size %d -> %d: tile %s (extends %d) does not grow the stored one of %d hashes", st.Size, next.Size, tile.ID.Path(), tile.Extends, len(old)/32)
			}
			tiles[key] = tile.Hashes
		}
		if want, _, _ := st.Extend(records[done : done+k]); !want.Equal(next) {
			t.Fatalf("size %d: ExtendTiles and Extend disagree", next.Size)
		}
		st, done = next, done+k
	}
	return records, tiles, st
}

func TestTilesMatchTlog(t *testing.T) {
	ctx := context.Background()
	records, tiles, st := growTiles(t, 66000, 3000, 1)
	roots, reader := tlogRoots(t, records)
	size := int64(len(records))
	if !bytes.Equal(st.Root(), roots[size-1][:]) {
		t.Fatal("root differs from sumdb/tlog's")
	}
	all := tlog.NewTiles(8, 0, size)
	if len(all) != len(tiles) {
		t.Fatalf("%d tiles stored, sumdb/tlog lists %d", len(tiles), len(all))
	}
	for _, tile := range all {
		want, err := tlog.ReadTileData(tile, reader)
		if err != nil {
			t.Fatal(err)
		}
		id := integrity.TileID{Level: uint(tile.L), Index: uint64(tile.N), Width: uint(tile.W)}
		got, err := integrity.ReadTile(ctx, tiles, id)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("tile %s differs from sumdb/tlog's: %v", id.Path(), err)
		}
	}
	// Proofs from nodes computed out of tiles verify with sumdb/tlog.
	nodes := integrity.TileNodes{TileReader: tiles}
	r := rand.New(rand.NewPCG(9, 9))
	for range 40 {
		n := 1 + r.Int64N(size)
		index := r.Int64N(n)
		p, err := integrity.InclusionProof(ctx, nodes, uint64(index), uint64(n))
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(toTlog(p), n, roots[n-1], index, tlog.RecordHash(records[index])); err != nil {
			t.Fatalf("inclusion %d in %d: %v", index, n, err)
		}
		from := 1 + r.Int64N(n)
		if p, err = integrity.ConsistencyProof(ctx, nodes, uint64(from), uint64(n)); err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(toTlog(p), n, roots[n-1], from, roots[from-1]); err != nil {
			t.Fatalf("consistency %d -> %d: %v", from, n, err)
		}
	}
	// Beyond the tree, nothing.
	if _, err := integrity.ReadTile(ctx, tiles, integrity.TileID{Level: 0, Index: 257, Width: 209}); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("a tile wider than stored: %v", err)
	}
	if _, err := integrity.InclusionProof(ctx, nodes, 0, uint64(size)+1); err == nil {
		t.Fatal("a proof in a tree larger than stored")
	}
}

func TestExtendTilesRefusesWrongEdges(t *testing.T) {
	_, tiles, st := growTiles(t, 300, 50, 2)
	edges, err := integrity.ReadEdgeTiles(context.Background(), tiles, st.Size)
	if err != nil || len(edges) != 2 {
		t.Fatalf("edges of 300: %d %v", len(edges), err)
	}
	leaf := [][]byte{[]byte("x")}
	for name, bad := range map[string][][]byte{
		"missing": edges[:1], "short": {edges[0][:32], edges[1]}, "long": {append(bytes.Clone(edges[0]), edges[0][:32]...), edges[1]},
	} {
		if _, _, err := st.ExtendTiles(bad, leaf); err == nil {
			t.Errorf("%s edge tiles accepted", name)
		}
	}
	tiles[[2]uint64{0, 1}] = tiles[[2]uint64{0, 1}][:64]
	if _, err := integrity.ReadEdgeTiles(context.Background(), tiles, st.Size); err == nil {
		t.Error("a stored edge tile narrower than the tree read")
	}
}
