package integrity_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
)

// tampered shows a log's rows through an edit, like a database changed behind the store's back.
type tampered struct {
	*memlog.Log
	edit        func([]integrity.StoredEntry) []integrity.StoredEntry
	checkpoints *memlog.Log // when set, the history comes from this log
}

func (t *tampered) ScanLog(ctx context.Context, after int64, limit int) ([]integrity.StoredEntry, error) {
	all, err := t.Log.ScanLog(ctx, -1, 1<<30)
	if err != nil {
		return nil, err
	}
	for i := range all {
		all[i].Canonical = bytes.Clone(all[i].Canonical)
	}
	all = t.edit(all)
	var out []integrity.StoredEntry
	for _, r := range all {
		if r.Seq > after && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func (t *tampered) Checkpoints(ctx context.Context, from uint64, limit int) ([]integrity.Checkpoint, error) {
	if t.checkpoints != nil {
		return t.checkpoints.Checkpoints(ctx, from, limit)
	}
	return t.Log.Checkpoints(ctx, from, limit)
}

// auditedLog is a log of 50 entries with checkpoints at 10, 30 and 50.
func auditedLog(t *testing.T) (*memlog.Log, *integrity.Key) {
	t.Helper()
	l := memlog.New()
	k := mustKey(t)
	c := integrity.NewCheckpointer(l, k, origin, nil)
	for _, n := range []int{10, 20, 20} {
		appendN(t, l, "usr_ana", n)
		if _, err := c.Checkpoint(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return l, k
}

func TestAuditPassesOnAnIntactLog(t *testing.T) {
	l, k := auditedLog(t)
	var last uint64
	rep, err := integrity.Audit(context.Background(), l, integrity.AuditOptions{Verifier: k.Verifier(), PageSize: 7,
		Progress: func(done, total uint64) { last = done }})
	if err != nil {
		t.Fatal(err)
	}
	head, _ := l.TreeHead(context.Background())
	if rep.Entries != 50 || rep.Checkpoints != 3 || rep.Nodes < 50 || !bytes.Equal(rep.Root, head.Root) || last != 50 {
		t.Fatalf("report %+v, progress %d", rep, last)
	}
	if _, err := integrity.Audit(context.Background(), l, integrity.AuditOptions{Verifier: mustKey(t).Verifier()}); err == nil ||
		!strings.Contains(err.Error(), "checkpoint 10") {
		t.Fatalf("checkpoints signed by another key: %v", err)
	}
}

func TestAuditNamesTheFirstBadSeq(t *testing.T) {
	l, _ := auditedLog(t)
	for _, c := range []struct {
		name string
		edit func([]integrity.StoredEntry) []integrity.StoredEntry
		seq  int64
		says string
	}{
		{"changed byte", func(rs []integrity.StoredEntry) []integrity.StoredEntry {
			rs[17].Canonical = bytes.Replace(rs[17].Canonical, []byte(`"i":7}`), []byte(`"i":8}`), 1)
			return rs
		}, 17, "changed after commit"},
		{"broken bytes", func(rs []integrity.StoredEntry) []integrity.StoredEntry {
			rs[33].Canonical[0] = '['
			return rs
		}, 33, "not a valid entry"},
		{"deleted row", func(rs []integrity.StoredEntry) []integrity.StoredEntry {
			return append(rs[:23:23], rs[24:]...)
		}, 23, "deleted"},
		{"deleted last row", func(rs []integrity.StoredEntry) []integrity.StoredEntry { return rs[:49] }, 49, "deleted"},
		{"swapped rows", func(rs []integrity.StoredEntry) []integrity.StoredEntry {
			rs[5].Canonical, rs[8].Canonical = rs[8].Canonical, rs[5].Canonical
			return rs
		}, 5, "reordered"},
		{"edited column", func(rs []integrity.StoredEntry) []integrity.StoredEntry {
			rs[12].Columns.ActorID = "usr_mallory"
			return rs
		}, 12, "actor_id"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := integrity.Audit(context.Background(), &tampered{Log: l, edit: c.edit}, integrity.AuditOptions{PageSize: 16})
			var m *integrity.Mismatch
			if !errors.As(err, &m) || m.Seq != c.seq || !strings.Contains(m.Reason, c.says) {
				t.Fatalf("got %v, want seq %d (%s)", err, c.seq, c.says)
			}
		})
	}
}

func TestAuditCatchesARewrittenTree(t *testing.T) {
	// Someone rewrote entry 3 and recomputed the whole tree: only the signed
	// checkpoints still remember the original.
	orig, _ := auditedLog(t)
	rows, _ := orig.ScanLog(context.Background(), -1, 100)
	forged := memlog.New()
	for _, r := range rows {
		e := r.Columns
		e.Metadata = map[string]any{"i": r.Seq}
		if r.Seq == 13 {
			e.Metadata = map[string]any{"i": "rewritten"}
		}
		if _, err := forged.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	_, err := integrity.Audit(context.Background(), &tampered{Log: forged, checkpoints: orig,
		edit: func(rs []integrity.StoredEntry) []integrity.StoredEntry { return rs }}, integrity.AuditOptions{})
	var m *integrity.Mismatch
	if !errors.As(err, &m) || m.Seq != 10 || !strings.Contains(m.Reason, "checkpoint 30") {
		t.Fatalf("got %v, want the range after checkpoint 10 named by checkpoint 30", err)
	}
}

// tileTampered shows a log's tiles through an edit.
type tileTampered struct {
	*memlog.Log
	edit func(id integrity.TileID, hashes []byte) []byte
}

func (t *tileTampered) Tiles(ctx context.Context, ids []integrity.TileID) ([][]byte, error) {
	got, err := t.Log.Tiles(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, id := range ids {
		got[i] = t.edit(id, bytes.Clone(got[i]))
	}
	return got, nil
}

func TestAuditNamesTheFirstBadTileHash(t *testing.T) {
	l := memlog.New()
	appendN(t, l, "usr_ana", 600) // tiles 0/0, 0/1, 0/2.p/88 and 1/0.p/2
	flip := func(level uint, index uint64, pos int) func(integrity.TileID, []byte) []byte {
		return func(id integrity.TileID, hs []byte) []byte {
			if id.Level == level && id.Index == index {
				hs[pos*32] ^= 1
			}
			return hs
		}
	}
	for _, c := range []struct {
		name string
		edit func(integrity.TileID, []byte) []byte
		seq  int64
		says string
	}{
		{"leaf hash", flip(0, 1, 44), 300, "changed after commit"},
		{"level 8 hash", flip(1, 0, 1), 256, "tree node (level 8, index 1) over seqs 256-511 in tile 1/0 differs"},
		{"leaf in the partial tile", flip(0, 2, 87), 599, "changed after commit"},
		{"missing tile", func(id integrity.TileID, hs []byte) []byte {
			if id.Level == 0 && id.Index == 1 {
				return nil
			}
			return hs
		}, 256, "tile 0/1 lacks"},
		{"hashes beyond the tree", func(id integrity.TileID, hs []byte) []byte {
			if id.Level == 1 {
				return append(hs, make([]byte, 32)...)
			}
			return hs
		}, 600, "more than a tree of 600 has"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := integrity.Audit(context.Background(), &tileTampered{Log: l, edit: c.edit}, integrity.AuditOptions{PageSize: 100})
			var m *integrity.Mismatch
			if !errors.As(err, &m) || m.Seq != c.seq || !strings.Contains(m.Reason, c.says) {
				t.Fatalf("got %v, want seq %d (%s)", err, c.seq, c.says)
			}
		})
	}
	if rep, err := integrity.Audit(context.Background(), l, integrity.AuditOptions{}); err != nil || rep.Nodes != 602 {
		t.Fatalf("audit of the intact log: %+v %v", rep, err)
	}
}
