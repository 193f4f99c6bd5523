package storetest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/sequencer"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testIntegrity holds a store to the tamper-evidence rules: its commit extends the RFC 6962 tree over the
// canonical bytes in seq order, proofs built from its nodes verify with an
// independent implementation (x/mod's sumdb/tlog and note), checkpoints only
// grow, scans return what they promise, and the audit and an export pass.
func testIntegrity(t *testing.T, s Store) {
	for _, tt := range []struct {
		name string
		fn   func(*testing.T, auditlog.Store, integrity.Store)
	}{
		{"TreeFollowsCommits", testTreeFollowsCommits},
		{"ProofsVerifyIndependently", testProofsVerifyIndependently},
		{"CheckpointHistory", testCheckpointHistory},
		{"Scans", testScans},
		{"AuditAndExport", testAuditAndExport},
		{"TilesMatchTlog", testTilesMatchTlog},
	} {
		// Subtests share the store: each one only appends and checks.
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, s, s) })
	}
}

// tlogTree computes every root of the log with sumdb/tlog from the stored
// canonical bytes in seq order.
func tlogTree(t *testing.T, st integrity.Store) ([]tlog.Hash, [][]byte) {
	t.Helper()
	roots, records, _ := tlogHashes(t, st)
	return roots, records
}

// tlogHashes is tlogTree, with a reader of the hashes sumdb/tlog stores.
func tlogHashes(t *testing.T, st integrity.Store) ([]tlog.Hash, [][]byte, tlog.HashReader) {
	t.Helper()
	var records [][]byte
	for after := int64(-1); ; {
		rows, err := st.ScanLog(context.Background(), after, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) == 0 {
			break
		}
		for _, r := range rows {
			if r.Seq != int64(len(records)) {
				t.Fatalf("ScanLog: seq %d at position %d", r.Seq, len(records))
			}
			records = append(records, r.Canonical)
			after = r.Seq
		}
	}
	roots, reader := tlogRootsOf(t, records)
	return roots, records, reader
}

func testTreeFollowsCommits(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(21, 1))
	first := RandomEvent(r, "usr_ana")
	first.ID = "evt-integrity-1"
	Must(t, w, first, RandomEvent(r, "usr_bruno"))
	Must(t, w, first)                     // an idempotent resend adds no leaf
	conflict := RandomEvent(r, "usr_ana") // a refused batch adds no leaf
	conflict.ID = first.ID
	if _, err := w.Append(ctx, []auditlog.Event{RandomEvent(r, "usr_ana"), conflict}); auditlog.ErrorCode(err) != auditlog.EConflict {
		t.Fatalf("conflicting batch: %v", err)
	}
	for range 5 {
		writeRandom(t, w, r, 1+r.IntN(40))
	}
	head, err := st.TreeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roots, records := tlogTree(t, st)
	if head.Size != uint64(len(records)) || !bytes.Equal(head.Root, roots[len(records)][:]) {
		t.Fatalf("tree head %d %x; sumdb/tlog over the %d stored entries says %x", head.Size, head.Root, len(records), roots[len(records)])
	}
	state, err := st.TreeState(ctx)
	if err != nil || !state.Equal(mustState(t, records)) || !bytes.Equal(state.Root(), head.Root) {
		t.Fatalf("tree state %d: %v", state.Size, err)
	}
}

// mustState recomputes the compact range of records.
func mustState(t *testing.T, records [][]byte) integrity.TreeState {
	t.Helper()
	st, _, err := integrity.TreeState{}.Extend(records)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testProofsVerifyIndependently(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(22, 2))
	key, _, err := integrity.GenerateKey(integrity.OriginPrefix + "5707e57000000000")
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(key.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	c := integrity.NewCheckpointer(st, key, integrity.OriginPrefix+"5707e57000000000", nil)
	var cps []integrity.Checkpoint
	for range 4 {
		batch := make([]auditlog.Event, 1+r.IntN(25))
		for i := range batch {
			batch[i] = RandomEvent(r, "usr_ana")
		}
		Must(t, w, batch...)
		cp, err := c.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := note.Open(cp.Note, note.VerifierList(v)); err != nil {
			t.Fatalf("checkpoint %d does not verify with x/mod's note: %v", cp.Size, err)
		}
		cps = append(cps, cp)
	}
	roots, records := tlogTree(t, st)
	for i, cp := range cps {
		if !bytes.Equal(cp.Root, roots[cp.Size][:]) {
			t.Fatalf("checkpoint %d root differs from sumdb/tlog's", cp.Size)
		}
		for index := uint64(0); index < cp.Size; index += 1 + uint64(r.IntN(3)) {
			p, err := integrity.InclusionProof(ctx, st, index, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(toTlog(p), int64(cp.Size), roots[cp.Size], int64(index), tlog.RecordHash(records[index])); err != nil {
				t.Fatalf("inclusion of %d in %d: sumdb/tlog: %v", index, cp.Size, err)
			}
		}
		for _, older := range cps[:i+1] {
			p, err := integrity.ConsistencyProof(ctx, st, older.Size, cp.Size)
			if err != nil {
				t.Fatal(err)
			}
			if older.Size > 0 {
				if err := tlog.CheckTree(toTlog(p), int64(cp.Size), roots[cp.Size], int64(older.Size), roots[older.Size]); err != nil {
					t.Fatalf("consistency %d -> %d: sumdb/tlog: %v", older.Size, cp.Size, err)
				}
			}
			if err := integrity.VerifyConsistency(older.Size, cp.Size, p, older.Root, cp.Root); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func toTlog(p [][]byte) []tlog.Hash {
	out := make([]tlog.Hash, len(p))
	for i, h := range p {
		copy(out[i][:], h)
	}
	return out
}

func testCheckpointHistory(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	key, _, _ := integrity.GenerateKey(integrity.OriginPrefix + "c0ffee0000000000")
	c := integrity.NewCheckpointer(st, key, integrity.OriginPrefix+"c0ffee0000000000", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 23))
			for range 8 {
				if _, err := w.Append(ctx, []auditlog.Event{RandomEvent(r, users[i%len(users)]), RandomEvent(r, users[i%len(users)])}); err != nil {
					t.Error(err)
				}
				if _, err := c.Checkpoint(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	head, _ := st.TreeHead(ctx)
	latest, err := c.Checkpoint(ctx)
	if err != nil || latest.Size != head.Size {
		t.Fatalf("latest checkpoint %d, tree %d: %v", latest.Size, head.Size, err)
	}
	history, err := st.Checkpoints(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(history); i++ {
		a, b := history[i-1], history[i]
		if a.Size >= b.Size {
			t.Fatalf("checkpoint sizes do not grow: %d then %d", a.Size, b.Size)
		}
		p, err := integrity.ConsistencyProof(ctx, st, a.Size, b.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := integrity.VerifyConsistency(a.Size, b.Size, p, a.Root, b.Root); err != nil {
			t.Fatalf("checkpoints %d and %d disagree: %v", a.Size, b.Size, err)
		}
	}
	if page, _ := st.Checkpoints(ctx, history[1].Size, 2); len(page) != 2 || page[0].Size != history[1].Size {
		t.Fatalf("Checkpoints(from, limit) page: %d", len(page))
	}
	if stored, err := st.AddCheckpoint(ctx, latest); err != nil || stored {
		t.Fatalf("a checkpoint of an existing size was stored again: %v %v", stored, err)
	}
	smaller := history[0]
	smaller.Size--
	if stored, err := st.AddCheckpoint(ctx, smaller); err != nil || stored {
		t.Fatalf("a smaller checkpoint was stored: %v %v", stored, err)
	}
	if got, err := st.CheckpointAt(ctx, history[1].Size); err != nil || !bytes.Equal(got.Note, history[1].Note) {
		t.Fatalf("CheckpointAt: %v", err)
	}
	if _, err := st.CheckpointAt(ctx, head.Size+1); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("CheckpointAt a missing size: %v", err)
	}
	if got, err := st.LatestCheckpoint(ctx); err != nil || got.Size != latest.Size || !got.CreatedAt.Equal(latest.CreatedAt.Truncate(1000)) {
		t.Fatalf("LatestCheckpoint %d (%v), want %d: %v", got.Size, got.CreatedAt, latest.Size, err)
	}
}

func testScans(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(24, 4))
	for range 3 {
		batch := make([]auditlog.Event, 30)
		for i := range batch {
			batch[i] = RandomEvent(r, users[r.IntN(len(users))])
		}
		Must(t, w, batch...)
	}
	rows, err := st.ScanLog(ctx, -1, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var all []auditlog.Entry
	for i, row := range rows {
		e, err := auditlog.DecodeEntry(row.Canonical)
		if err != nil || row.Seq != int64(i) || e.Seq != row.Seq {
			t.Fatalf("ScanLog row %d: seq %d: %v", i, row.Seq, err)
		}
		c := row.Columns
		if c.ID != e.ID || c.ActorID != e.ActorID || c.Action != e.Action || c.ResourceType != e.ResourceType ||
			c.ResourceID != e.ResourceID || !slices.Equal(ptrSlice(c.ProjectID), ptrSlice(e.ProjectID)) ||
			c.Outcome != e.Outcome || c.OccurredAt.UnixMicro() != e.OccurredAt.UnixMicro() {
			t.Fatalf("ScanLog row %d: columns %+v differ from the entry %+v", i, c, e)
		}
		all = append(all, e)
	}
	if page, _ := st.ScanLog(ctx, 4, 3); len(page) != 3 || page[0].Seq != 5 {
		t.Fatalf("ScanLog(after 4, limit 3): %d rows", len(page))
	}
	since := Base.Add(-10 * 24 * 3600e9)
	for _, f := range []auditlog.Filter{{}, {Outcome: auditlog.Failed}, {Families: []string{"cron_worker"}}, {ProjectID: "prj_api", Since: &since}} {
		var want []int64
		for _, e := range all {
			if e.ActorID == "usr_ana" && f.Matches(&e) && e.Seq > 3 && e.Seq < int64(len(all))-2 {
				want = append(want, e.Seq)
			}
		}
		var got []int64
		for after := int64(3); ; {
			page, err := st.ScanUser(ctx, "usr_ana", f, after, int64(len(all))-2, 4)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range page {
				got = append(got, e.Seq)
				after = e.Seq
			}
			if len(page) < 4 {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("ScanUser %+v: seqs %v, want %v", f, got, want)
		}
	}
}

func ptrSlice(p *string) []string {
	if p == nil {
		return nil
	}
	return []string{*p}
}

func testAuditAndExport(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(25, 5))
	for range 3 {
		Must(t, w, RandomEvent(r, "usr_ana"), RandomEvent(r, "usr_carla"))
	}
	key, _, _ := integrity.GenerateKey(integrity.OriginPrefix + "a0d17a0d17000000")
	cp, err := integrity.NewCheckpointer(st, key, integrity.OriginPrefix+"a0d17a0d17000000", nil).Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := integrity.Audit(ctx, st, integrity.AuditOptions{PageSize: 7}); err != nil {
		t.Fatalf("audit of an intact store: %v", err)
	}
	carla, _ := FollowAll(t, s, auditlog.UserScope("usr_carla"), auditlog.Filter{}, -1, 100)
	x, err := bundle.Prepare(ctx, st.(bundle.Source), bundle.Options{UserID: "usr_carla", Checkpoint: cp, Key: key, Now: Base, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	res, err := bundle.Verify(&buf, key.Verifier(), bundle.VerifyOptions{TempDir: t.TempDir()})
	if err != nil || res.Entries == 0 || res.Entries != x.Manifest.Count {
		t.Fatalf("export of %d entries: %+v %v", x.Manifest.Count, res, err)
	}
	// Every entry of a store is chained: the bundle proves it holds all of
	// usr_carla's, from the first to the end of the tree.
	if c := res.Chain; c == nil || c.FromSeq != carla[0].Seq || c.Count != int64(len(carla)) || c.Entries != 0 {
		t.Fatalf("export's chain %+v, want from seq %d, %d entries in all, none left out", c, carla[0].Seq, len(carla))
	}
}

// testTilesMatchTlog checks the stored tiles against sumdb/tlog's, computed
// from the stored entries, and that a partial tile only grows: what a
// client fetched stays a prefix of what the store serves later.
func testTilesMatchTlog(t *testing.T, s auditlog.Store, st integrity.Store) {
	ctx := context.Background()
	w := Writer(t, s)
	r := rand.New(rand.NewPCG(26, 6))
	seen := map[[2]uint64][]byte{}
	for round := range 4 {
		for range 2 { // about 620 entries in all, so that a level-1 tile exists
			writeRandom(t, w, r, 1+r.IntN(150))
		}
		head, err := st.TreeHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all := tlog.NewTiles(integrity.TileHeight, 0, int64(head.Size))
		ids := make([]integrity.TileID, len(all))
		for i, tile := range all {
			ids[i] = integrity.TileID{Level: uint(tile.L), Index: uint64(tile.N), Width: uint(tile.W)}
		}
		stored, err := st.Tiles(ctx, ids)
		if err != nil || len(stored) != len(ids) {
			t.Fatalf("Tiles: %d of %d: %v", len(stored), len(ids), err)
		}
		_, _, reader := tlogHashes(t, st)
		for i, tile := range all {
			want, err := tlog.ReadTileData(tile, reader)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(stored[i], want) {
				t.Fatalf("tree of %d: tile %s holds %d bytes that differ from sumdb/tlog's %d", head.Size, ids[i].Path(), len(stored[i]), len(want))
			}
			key := [2]uint64{uint64(tile.L), uint64(tile.N)}
			if !bytes.HasPrefix(stored[i], seen[key]) {
				t.Fatalf("tree of %d: tile %s changed instead of growing", head.Size, ids[i].Path())
			}
			seen[key] = stored[i]
		}
		if round == 3 && ids[len(ids)-1].Level < 1 { // tlog lists tiles lowest level first
			t.Fatalf("tree of %d: no level-1 tile", head.Size)
		}
	}
	if _, err := integrity.Audit(ctx, st, integrity.AuditOptions{PageSize: 97}); err != nil {
		t.Fatalf("audit: %v", err)
	}
}

// writeRandom writes a batch of n random events of random users.
func writeRandom(t *testing.T, w *sequencer.Sequencer, r *rand.Rand, n int) {
	t.Helper()
	batch := make([]auditlog.Event, n)
	for i := range batch {
		batch[i] = RandomEvent(r, users[r.IntN(len(users))])
	}
	Must(t, w, batch...)
}
