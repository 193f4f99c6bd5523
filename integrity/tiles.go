package integrity

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/transparency-dev/merkle/compact"
)

// The tree is stored as C2SP tlog-tiles of height 8: tile (L, N) holds the
// hashes of the tree nodes at level 8L with indexes 256N .. 256N+W-1,
// concatenated. A full tile (W = 256) never changes; the right-edge tile of
// each level is partial and grows with the tree, by appending hashes only.
const (
	TileHeight   = 8               // levels of the tree one tile spans
	TileWidth    = 1 << TileHeight // hashes in a full tile
	MaxTileLevel = 7               // tiles of level 8 would hold nodes of 2^64 leaves
)

// TileID names a tile: its level L (holding tree level 8L), its index N at
// that level, and its width W, the number of hashes it holds (1 to 256).
type TileID struct {
	Level uint
	Index uint64
	Width uint
}

// Full reports whether the tile holds all 256 hashes, so never changes again.
func (t TileID) Full() bool { return t.Width == TileWidth }

// Path returns the tile's C2SP tlog-tiles path below tile/: "<L>/<N>" with N
// in 3-digit groups, all but the last prefixed with x (1234067 is
// x001/x234/067), and ".p/<W>" after it for a partial tile.
func (t TileID) Path() string {
	n := strconv.FormatUint(1000+t.Index%1000, 10)[1:]
	for rest := t.Index / 1000; rest > 0; rest /= 1000 {
		n = "x" + strconv.FormatUint(1000+rest%1000, 10)[1:] + "/" + n
	}
	p := strconv.FormatUint(uint64(t.Level), 10) + "/" + n
	if !t.Full() {
		p += ".p/" + strconv.FormatUint(uint64(t.Width), 10)
	}
	return p
}

// ParseTilePath parses a path made by Path, strictly: one spelling per tile
// (no leading zeros, no empty x000 group, widths 1 to 255 after .p), and only
// tiles a tree of up to 2^64 leaves can have (levels up to 7).
func ParseTilePath(p string) (TileID, error) {
	bad := func(why string) (TileID, error) {
		return TileID{}, fmt.Errorf("parse tile path: %s", why)
	}
	elems := strings.Split(p, "/")
	if len(elems) < 2 {
		return bad("want <L>/<N>[.p/<W>]")
	}
	level, ok := decimal(elems[0], MaxTileLevel)
	if !ok {
		return bad("the level must be 0 to 7, without leading zeros")
	}
	t := TileID{Level: uint(level), Width: TileWidth}
	rest := elems[1:]
	if last := rest[len(rest)-1]; len(rest) >= 2 && strings.HasSuffix(rest[len(rest)-2], ".p") {
		w, ok := decimal(last, TileWidth-1)
		if !ok || w == 0 {
			return bad("a partial width must be 1 to 255, without leading zeros")
		}
		t.Width = uint(w)
		rest = rest[:len(rest)-1]
		rest[len(rest)-1] = strings.TrimSuffix(rest[len(rest)-1], ".p")
	}
	// Tiles of level L hold nodes of 2^(8L) leaves: at most 2^(56-8L) tiles.
	limit := uint64(1)<<(64-TileHeight*(t.Level+1)) - 1
	for i, e := range rest {
		if i < len(rest)-1 {
			if !strings.HasPrefix(e, "x") || (i == 0 && e == "x000") {
				return bad("the index's groups but the last are x and 3 digits, the first not x000")
			}
			e = e[1:]
		}
		if len(e) != 3 || strings.Trim(e, "0123456789") != "" {
			return bad("the index is written in groups of 3 digits")
		}
		g, _ := strconv.ParseUint(e, 10, 64)
		if g > limit || t.Index > (limit-g)/1000 {
			return bad("the index is beyond any tree")
		}
		t.Index = t.Index*1000 + g
	}
	return t, nil
}

// decimal parses a canonical decimal number up to max.
func decimal(s string, max uint64) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 64)
	return n, err == nil && n <= max
}

// EdgeTiles returns the partial tiles of a tree of the given size, lowest
// level first: the right edge of each level whose node count is not a
// multiple of 256. Every other tile of the tree is full.
func EdgeTiles(size uint64) []TileID {
	var out []TileID
	for level := uint(0); level <= MaxTileLevel; level++ {
		n := size >> (TileHeight * level) // complete nodes at tree level 8L
		if n == 0 {
			break
		}
		if w := n % TileWidth; w > 0 {
			out = append(out, TileID{Level: level, Index: n / TileWidth, Width: uint(w)})
		}
	}
	return out
}

// Tile is one tile's hashes, 32 bytes times its width, as a store writes it.
type Tile struct {
	ID     TileID
	Hashes []byte
	// Extends is the width of the stored partial tile this one grows (its
	// hashes start with that tile's), 0 for a tile not stored yet.
	Extends uint
}

// TileReader reads stored tiles.
type TileReader interface {
	// Tiles returns the stored hashes of the tiles (Level, Index) of ids, in
	// the same order, however wide each is stored (the ids' widths are not
	// looked at); nil for a tile that is not stored.
	Tiles(ctx context.Context, ids []TileID) ([][]byte, error)
}

// ReadTile returns exactly the id.Width hashes of a tile: the first ones of
// the stored tile, which must be at least that wide, or an ENotFound error
// (a tile beyond the committed tree).
func ReadTile(ctx context.Context, tr TileReader, id TileID) ([]byte, error) {
	got, err := tr.Tiles(ctx, []TileID{id})
	if err != nil {
		return nil, fmt.Errorf("read tile: %w", err)
	}
	want := int(id.Width) * HashSize
	if len(got) != 1 || len(got[0]) < want {
		return nil, auditlog.Errorf(auditlog.ENotFound, "no tile %s in the committed tree", id.Path())
	}
	return got[0][:want], nil
}

// ReadEdgeTiles reads the partial tiles of a tree of the given size
// (EdgeTiles), which must be stored exactly that wide, for ExtendTiles.
func ReadEdgeTiles(ctx context.Context, tr TileReader, size uint64) ([][]byte, error) {
	ids := EdgeTiles(size)
	if len(ids) == 0 {
		return nil, nil
	}
	got, err := tr.Tiles(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("read edge tiles: %w", err)
	}
	if len(got) != len(ids) {
		return nil, fmt.Errorf("read edge tiles: asked for %d, got %d", len(ids), len(got))
	}
	for i, id := range ids {
		if len(got[i]) != int(id.Width)*HashSize {
			return nil, fmt.Errorf("read edge tiles: tile %s of a tree of %d holds %d bytes: run auditlog verify --db", id.Path(), size, len(got[i]))
		}
	}
	return got, nil
}

// ExtendTiles appends leaves (the canonical bytes of entries with seqs Size,
// Size+1, ...) and returns the new state and the tiles that changed, lowest
// level first, which the store must write: new tiles inserted, and grown
// partial tiles rewritten (their Extends says how wide they were). edges
// holds the stored hashes of EdgeTiles(s.Size), in that order (see
// ReadEdgeTiles). It modifies neither s nor edges.
func (s TreeState) ExtendTiles(edges [][]byte, leaves [][]byte) (TreeState, []Tile, error) {
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		hashes[i] = LeafHash(l)
	}
	return s.ExtendTileHashes(edges, hashes)
}

// ExtendTileHashes is ExtendTiles for leaf hashes already computed.
func (s TreeState) ExtendTileHashes(edges [][]byte, leafHashes [][]byte) (TreeState, []Tile, error) {
	ids := EdgeTiles(s.Size)
	if len(edges) != len(ids) {
		return TreeState{}, nil, fmt.Errorf("extend tiles: a tree of %d has %d partial tiles, given %d", s.Size, len(ids), len(edges))
	}
	var (
		open    [MaxTileLevel + 1]*Tile // the tile each level appends to
		changed []*Tile
	)
	for i, id := range ids {
		if len(edges[i]) != int(id.Width)*HashSize {
			return TreeState{}, nil, fmt.Errorf("extend tiles: tile %s given %d bytes", id.Path(), len(edges[i]))
		}
		open[id.Level] = &Tile{ID: id, Hashes: bytes.Clone(edges[i]), Extends: id.Width}
	}
	var bad error
	visit := func(id compact.NodeID, hash []byte) {
		if id.Level%TileHeight != 0 || bad != nil {
			return
		}
		level := id.Level / TileHeight
		t := open[level]
		if t == nil || t.ID.Index != id.Index/TileWidth {
			t = &Tile{ID: TileID{Level: level, Index: id.Index / TileWidth}}
			open[level] = t
		}
		if uint64(t.ID.Width) != id.Index%TileWidth {
			bad = fmt.Errorf("extend tiles: node %d of level %d does not follow tile %s", id.Index, id.Level, t.ID.Path())
			return
		}
		if !containsTile(changed, t) {
			changed = append(changed, t)
		}
		t.Hashes = append(t.Hashes, hash...)
		t.ID.Width++
	}
	next, err := s.extend(leafHashes, visit)
	if err == nil {
		err = bad
	}
	if err != nil {
		return TreeState{}, nil, err
	}
	out := make([]Tile, 0, len(changed))
	for level := uint(0); level <= MaxTileLevel; level++ {
		for _, t := range changed {
			if t.ID.Level == level {
				out = append(out, *t)
			}
		}
	}
	return next, out, nil
}

// containsTile reports whether ts holds t (a handful at most per level).
func containsTile(ts []*Tile, t *Tile) bool {
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i] == t {
			return true
		}
	}
	return false
}

// TileNodes serves the nodes proofs need from tiles: a node of level 8L+k
// is computed from the 2^k hashes below it in a tile of level L.
type TileNodes struct{ TileReader }

var _ NodeReader = TileNodes{}

// Nodes returns the hashes of the given nodes, in the same order, reading
// each tile they need once, in one call; nil for a node whose hashes are not
// stored.
func (tn TileNodes) Nodes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	type spot struct {
		tile        int
		first, span uint64 // hash positions in the tile
	}
	spots := make([]spot, len(ids))
	at := map[[2]uint64]int{}
	var tiles []TileID
	for i, id := range ids {
		spots[i].tile = -1
		if id.Level > 63 || id.Level > 0 && id.Index >= 1<<(64-id.Level) {
			continue // no tree of up to 2^64 leaves has it
		}
		k := id.Level % TileHeight
		first := id.Index << k // index at tree level 8L
		key := [2]uint64{uint64(id.Level / TileHeight), first / TileWidth}
		n, ok := at[key]
		if !ok {
			n = len(tiles)
			at[key] = n
			tiles = append(tiles, TileID{Level: id.Level / TileHeight, Index: key[1], Width: TileWidth})
		}
		spots[i] = spot{tile: n, first: first % TileWidth, span: 1 << k}
	}
	out := make([][]byte, len(ids))
	if len(tiles) == 0 {
		return out, nil
	}
	got, err := tn.Tiles(ctx, tiles)
	if err != nil {
		return nil, fmt.Errorf("read nodes: %w", err)
	}
	if len(got) != len(tiles) {
		return nil, fmt.Errorf("read nodes: asked for %d tiles, got %d", len(tiles), len(got))
	}
	for i, sp := range spots {
		if sp.tile < 0 || uint64(len(got[sp.tile])) < (sp.first+sp.span)*HashSize {
			continue
		}
		out[i] = subtreeHash(got[sp.tile][sp.first*HashSize : (sp.first+sp.span)*HashSize])
	}
	return out, nil
}

// subtreeHash returns the root of the perfect subtree over the hashes
// (a power of two of them), concatenated.
func subtreeHash(hs []byte) []byte {
	level := make([][]byte, len(hs)/HashSize)
	for i := range level {
		level[i] = hs[i*HashSize : (i+1)*HashSize]
	}
	for len(level) > 1 {
		for i := 0; i < len(level)/2; i++ {
			level[i] = NodeHash(level[2*i], level[2*i+1])
		}
		level = level[:len(level)/2]
	}
	return bytes.Clone(level[0])
}
