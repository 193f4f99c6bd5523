package integrity

import (
	"bytes"
	"context"
	"fmt"
	"math/bits"

	"github.com/guaracloud/auditlog"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

// Mismatch is a verification failure located at one seq: the first entry
// that is missing, changed, out of place, or not covered as it should be.
type Mismatch struct {
	Seq    int64
	Reason string
}

// Error implements the error interface.
func (m *Mismatch) Error() string { return fmt.Sprintf("seq %d: %s", m.Seq, m.Reason) }

// AuditOptions tune Audit; the zero value checks everything but checkpoint signatures.
type AuditOptions struct {
	Verifier note.Verifier            // checks every checkpoint's signature when set
	Progress func(done, total uint64) // called after each page of entries
	PageSize int                      // entries read per page (default 1000)
}

// AuditReport says what Audit checked.
type AuditReport struct {
	Entries     uint64 // entries recomputed
	Nodes       uint64 // stored tree nodes compared: the hashes of the tiles
	Checkpoints int    // checkpoints whose roots were recomputed
	Root        []byte // the recomputed root
}

// Audit recomputes every leaf from the stored canonical bytes, every
// perfect-subtree node the tiles keep (levels 0, 8, 16, ...), the tree state and the root of every checkpoint in
// the history, and compares them with what the store holds. It also checks
// that seqs are dense, that each row's bytes carry the row's seq, that the
// columns reads filter on say what the bytes say, and that every actor's
// chain is unbroken (actor_seq dense, actor_prev naming the previous entry). The first failure is a
// *Mismatch naming the lowest seq at fault.
func Audit(ctx context.Context, src Store, opts AuditOptions) (AuditReport, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	state, err := src.TreeState(ctx)
	if err != nil {
		return AuditReport{}, fmt.Errorf("audit: %w", err)
	}
	a := &auditor{src: src, opts: opts, state: state, rng: rangeFactory.NewEmptyRange(0)}
	if err := a.loadPrunes(ctx); err != nil {
		return AuditReport{}, err
	}
	if err := a.checkpointsUpTo(ctx, 0); err != nil {
		return AuditReport{}, err
	}
	if err := a.failure(); err != nil {
		return AuditReport{}, err
	}
	for {
		rows, err := src.ScanLog(ctx, a.next-1, opts.PageSize)
		if err != nil {
			return AuditReport{}, fmt.Errorf("audit: %w", err)
		}
		if len(rows) == 0 {
			break
		}
		if err := a.page(ctx, rows); err != nil {
			return AuditReport{}, err
		}
		if opts.Progress != nil {
			opts.Progress(uint64(a.next), state.Size)
		}
	}
	if err := a.finish(ctx); err != nil {
		return AuditReport{}, err
	}
	root, _ := a.rng.GetRootHash(nil)
	if root == nil {
		root = EmptyRoot()
	}
	return AuditReport{Entries: uint64(a.next), Nodes: a.nodes, Checkpoints: a.checkpoints, Root: root}, nil
}

// auditor holds the recomputation's progress.
type auditor struct {
	src         Store
	opts        AuditOptions
	state       TreeState
	rng         *compact.Range
	next        int64 // the seq the next row must have
	lastGood    uint64
	nodes       uint64
	checkpoints int
	pending     []Checkpoint           // fetched, not yet checked
	fetchedTo   uint64                 // checkpoints of size < fetchedTo have been fetched
	exhausted   bool                   // the history has no more checkpoints
	first       *Mismatch              // lowest-seq failure of the current page
	ret         Retention              // the store's tombstones and prune records, when it prunes
	prunes      []Prune                // every prune recorded, their records checked against the tree
	cpFail      *Mismatch              // a checkpoint that disagrees, reported when nothing more precise is
	chains      map[string]*chainState // each actor's chain so far (audit_chain.go)
}

// fail records a failure, keeping the one at the lowest seq.
func (a *auditor) fail(seq int64, format string, args ...any) {
	if a.first == nil || seq < a.first.Seq {
		a.first = &Mismatch{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
}

// page recomputes one page of rows, then compares the nodes it completed.
func (a *auditor) page(ctx context.Context, rows []StoredEntry) error {
	var created []Node
	visit := func(id compact.NodeID, hash []byte) { created = append(created, Node{ID: id, Hash: hash}) }
	for _, row := range rows {
		if row.Seq > a.next {
			if err := a.fillPruned(ctx, min(row.Seq, int64(a.state.Size)), visit); err != nil {
				return err
			}
		}
		if row.Seq != a.next {
			a.fail(a.next, "missing: the log goes from seq %d to seq %d (a deleted row)", a.next-1, row.Seq)
			break
		}
		if uint64(row.Seq) >= a.state.Size {
			a.fail(row.Seq, "not in the tree: the tree holds %d entries (a row written around the sequencer)", a.state.Size)
			break
		}
		checkRow(a, row)
		if err := a.rng.Append(LeafHash(row.Canonical), visit); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		a.next++
		if err := a.checkpointsUpTo(ctx, uint64(a.next)); err != nil {
			return err
		}
	}
	if err := a.compareNodes(ctx, created); err != nil {
		return err
	}
	return a.failure()
}

// failure returns the most precise failure found so far, if any: one naming
// an entry, else a checkpoint that disagrees with the recomputed tree.
func (a *auditor) failure() error {
	if a.first != nil {
		return a.first
	}
	if a.cpFail != nil {
		return a.cpFail
	}
	return nil
}

// checkRow checks that a row's bytes are an entry with the row's seq and that
// its filter columns agree with them.
func checkRow(a *auditor, row StoredEntry) {
	e, err := auditlog.DecodeEntry(row.Canonical)
	if err != nil {
		a.fail(row.Seq, "the stored bytes are not a valid entry: %v", err)
		return
	}
	if e.Seq != row.Seq {
		a.fail(row.Seq, "the stored bytes say seq %d: rows were reordered or renumbered", e.Seq)
		return
	}
	c := row.Columns
	for _, f := range []struct{ name, col, canon string }{
		{"id", c.ID, e.ID}, {"actor_id", c.ActorID, e.ActorID}, {"action", c.Action, e.Action},
		{"resource_type", c.ResourceType, e.ResourceType}, {"resource_id", c.ResourceID, e.ResourceID},
		{"project_id", deref(c.ProjectID), deref(e.ProjectID)}, {"outcome", string(c.Outcome), string(e.Outcome)},
	} {
		if f.col != f.canon {
			a.fail(row.Seq, "column %s is %q but the entry says %q: the row was edited", f.name, f.col, f.canon)
			return
		}
	}
	if (c.ProjectID == nil) != (e.ProjectID == nil) {
		a.fail(row.Seq, "column project_id disagrees with the entry on null: the row was edited")
	} else if c.OccurredAt.UnixMicro() != e.OccurredAt.UnixMicro() {
		a.fail(row.Seq, "column occurred_us is %s but the entry says %s: the row was edited",
			c.OccurredAt.UTC().Format(auditlog.TimeLayout), e.OccurredAt.UTC().Format(auditlog.TimeLayout))
	} else {
		a.checkChain(&e)
	}
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// compareNodes compares the recomputed nodes kept in tiles (those of levels
// 8L) with the stored tiles' hashes, a few hundred tiles per read.
func (a *auditor) compareNodes(ctx context.Context, created []Node) error {
	var kept []Node
	for _, n := range created {
		if n.ID.Level%TileHeight == 0 {
			kept = append(kept, n)
		}
	}
	for len(kept) > 0 {
		// Nodes of one tile are adjacent in kept only per level; chunk by
		// tiles asked, each asked once.
		var (
			ids   []TileID
			at    = map[[2]uint64]int{}
			chunk []Node
		)
		for len(kept) > 0 && len(ids) < 500 {
			n := kept[0]
			key := [2]uint64{uint64(n.ID.Level / TileHeight), n.ID.Index / TileWidth}
			if _, ok := at[key]; !ok {
				at[key] = len(ids)
				ids = append(ids, TileID{Level: uint(key[0]), Index: key[1], Width: TileWidth})
			}
			chunk, kept = append(chunk, n), kept[1:]
		}
		stored, err := a.src.Tiles(ctx, ids)
		if err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		for _, n := range chunk {
			i := at[[2]uint64{uint64(n.ID.Level / TileHeight), n.ID.Index / TileWidth}]
			pos := n.ID.Index % TileWidth
			var have []byte
			if i < len(stored) && uint64(len(stored[i])) >= (pos+1)*HashSize {
				have = stored[i][pos*HashSize : (pos+1)*HashSize]
			}
			a.compareNode(n, ids[i], have)
		}
		a.nodes += uint64(len(chunk))
	}
	return nil
}

// compareNode records a failure when a stored hash differs from the recomputed node n.
func (a *auditor) compareNode(n Node, tile TileID, have []byte) {
	begin, end := n.ID.Coverage()
	switch {
	case have == nil:
		a.fail(int64(begin), "tile %d/%d lacks tree node (level %d, index %d) over seqs %d-%d",
			tile.Level, tile.Index, n.ID.Level, n.ID.Index, begin, end-1)
	case bytes.Equal(have, n.Hash):
	case n.ID.Level > 0 && a.first != nil && a.first.Seq < int64(end):
		// Explained by a failure below it, already recorded.
	case n.ID.Level == 0:
		a.fail(int64(begin), "the entry's bytes do not hash to the leaf committed for it: the entry was changed after commit")
	default:
		a.fail(int64(begin), "tree node (level %d, index %d) over seqs %d-%d in tile %d/%d differs from the one recomputed from the entries",
			n.ID.Level, n.ID.Index, begin, end-1, tile.Level, tile.Index)
	}
}

// compareEdges checks that the stored partial tiles of the tree hold no
// hash beyond it (the full ones were compared hash by hash).
func (a *auditor) compareEdges(ctx context.Context) error {
	ids := EdgeTiles(a.state.Size)
	if len(ids) == 0 {
		return nil
	}
	stored, err := a.src.Tiles(ctx, ids)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	for i, id := range ids {
		if i < len(stored) && len(stored[i]) > int(id.Width)*HashSize {
			return &Mismatch{Seq: int64(a.state.Size), Reason: fmt.Sprintf("tile %d/%d holds %d hashes, more than a tree of %d has: hashes were added around the tree",
				id.Level, id.Index, len(stored[i])/HashSize, a.state.Size)}
		}
	}
	return nil
}

// checkpointsUpTo checks every checkpoint of size <= size against the
// recomputed tree, which must hold exactly size leaves.
func (a *auditor) checkpointsUpTo(ctx context.Context, size uint64) error {
	for {
		cp, ok, err := a.peekCheckpoint(ctx)
		if err != nil || !ok || cp.Size > size {
			return err
		}
		a.pending = a.pending[1:]
		a.checkCheckpoint(cp)
	}
}

// peekCheckpoint returns the next checkpoint of the history not yet checked.
func (a *auditor) peekCheckpoint(ctx context.Context) (Checkpoint, bool, error) {
	if len(a.pending) == 0 && !a.exhausted {
		cps, err := a.src.Checkpoints(ctx, a.fetchedTo, 100)
		if err != nil {
			return Checkpoint{}, false, fmt.Errorf("audit: %w", err)
		}
		a.pending = cps
		a.exhausted = len(cps) == 0
		if len(cps) > 0 {
			a.fetchedTo = cps[len(cps)-1].Size + 1
		}
	}
	if len(a.pending) == 0 {
		return Checkpoint{}, false, nil
	}
	return a.pending[0], true, nil
}

// checkCheckpoint compares one checkpoint with the recomputed tree of its size.
func (a *auditor) checkCheckpoint(cp Checkpoint) {
	a.checkpoints++
	at := int64(a.lastGood)
	if a.cpFail != nil {
		return
	}
	fail := func(format string, args ...any) {
		a.cpFail = &Mismatch{Seq: at, Reason: fmt.Sprintf(format, args...)}
	}
	text := string(cp.Note)
	if a.opts.Verifier != nil {
		t, err := OpenNote(cp.Note, a.opts.Verifier)
		if err != nil {
			fail("checkpoint %d: %v", cp.Size, err)
			return
		}
		text = t
	} else if i := bytes.Index(cp.Note, []byte("\n\n")); i >= 0 {
		text = string(cp.Note[:i+1])
	}
	_, h, err := ParseCheckpointBody(text)
	if err != nil || h.Size != cp.Size || !bytes.Equal(h.Root, cp.Root) {
		fail("checkpoint %d: the stored size and root differ from the signed text", cp.Size)
		return
	}
	root, _ := a.rng.GetRootHash(nil)
	if root == nil {
		root = EmptyRoot()
	}
	if !bytes.Equal(root, cp.Root) {
		fail("checkpoint %d was signed over other entries: an entry in seqs %d-%d changed after it was signed", cp.Size, at, cp.Size-1)
		return
	}
	a.lastGood = cp.Size
}

// finish compares the recomputed tree with the stored state and checks that
// no checkpoint covers more entries than the log holds.
func (a *auditor) finish(ctx context.Context) error {
	if a.first == nil && uint64(a.next) < a.state.Size {
		var created []Node
		if err := a.fillPruned(ctx, int64(a.state.Size), func(id compact.NodeID, hash []byte) { created = append(created, Node{ID: id, Hash: hash}) }); err != nil {
			return err
		}
		if err := a.compareNodes(ctx, created); err != nil {
			return err
		}
		if err := a.failure(); err != nil {
			return err
		}
	}
	if uint64(a.next) < a.state.Size {
		return &Mismatch{Seq: a.next, Reason: fmt.Sprintf("missing: the tree holds %d entries but the log ends at seq %d (deleted rows)", a.state.Size, a.next-1)}
	}
	got := TreeState{Size: a.rng.End(), Hashes: a.rng.Hashes()}
	if !got.Equal(a.state) {
		// The frontier's subtrees cover [0, Size) left to right, largest first.
		begin := uint64(0)
		for i, h := range a.state.Hashes {
			if i >= len(got.Hashes) || !bytes.Equal(h, got.Hashes[i]) {
				break
			}
			begin += 1 << (bits.Len64(a.state.Size-begin) - 1)
		}
		return &Mismatch{Seq: int64(begin), Reason: "the stored tree state differs from the tree recomputed from the entries"}
	}
	if err := a.compareEdges(ctx); err != nil {
		return err
	}
	cp, ok, err := a.peekCheckpoint(ctx)
	if err != nil {
		return err
	}
	if ok {
		return &Mismatch{Seq: a.next, Reason: fmt.Sprintf("checkpoint %d covers more entries than the log holds (%d): entries were deleted", cp.Size, a.next)}
	}
	return a.failure()
}
