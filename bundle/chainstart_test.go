package bundle_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
)

func TestChainStartsAfterTheUpgrade(t *testing.T) {
	f := mixedFixture(t, 200, 60) // seqs 0-59 from before chains
	archive, m := f.exportA(t, serviceFilter())
	res, err := f.verify(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	_, files := unpack(t, archive)
	kept := seqsOf(t, files[bundle.FileEntries])
	firstChained := slices.IndexFunc(kept, func(s int64) bool { return s >= 60 })
	if firstChained <= 0 || m.Chain == nil || m.Chain.FromSeq != kept[firstChained] || m.Chain.FromActorSeq != 0 {
		t.Fatalf("chain %+v, exported %v", m.Chain, kept)
	}
	if res.Entries != int64(len(kept)) || res.Chain.FromSeq != kept[firstChained] {
		t.Fatalf("result %+v", res)
	}
	for _, s := range seqsOf(t, files[bundle.FileChain]) {
		if s <= m.Chain.FromSeq {
			t.Fatalf("chain holds seq %d before its start %d", s, m.Chain.FromSeq)
		}
	}
	// An old entry is still checked for inclusion.
	_, err = f.verify(t, f.forge(t, archive, func(fg *forgery) {
		fg.entries[0] = bytes.Replace(fg.entries[0], []byte(`"svc_`), []byte(`"svx_`), 1)
	}))
	mismatchAt(t, err, kept[0], "inclusion proof does not lead")
	// All entries from before the upgrade: no chain.
	old := mixedFixture(t, 50, 50)
	archive, m = old.exportA(t, serviceFilter())
	if res, err := old.verify(t, archive); err != nil || m.Chain != nil || res.Chain != nil {
		t.Fatalf("pre-upgrade log: %+v %v", m.Chain, err)
	}
}

func TestChainStartsAfterAPrunedEntry(t *testing.T) {
	f := mixedFixture(t, 200, 0)
	all := f.userEntries(t, "usr_a")
	pruned := all[40] // a chain member, whatever the filters say of it
	f.log.MarkPruned(pruned.Seq)
	archive, m := f.exportA(t, serviceFilter())
	res, err := f.verify(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	_, files := unpack(t, archive)
	kept := seqsOf(t, files[bundle.FileEntries])
	i := slices.IndexFunc(kept, func(s int64) bool { return s > pruned.Seq })
	if m.Chain == nil || m.Chain.FromSeq != kept[i] || res.Chain.FromSeq != kept[i] || kept[0] >= pruned.Seq {
		t.Fatalf("chain %+v after pruned seq %d, exported %v", m.Chain, pruned.Seq, kept)
	}
	if m.Chain.Count != int64(len(all)) {
		t.Fatalf("count %d, want %d", m.Chain.Count, len(all))
	}
	// The last entry pruned: no exported entry after it, no chain.
	f.log.MarkPruned(all[len(all)-1].Seq)
	if _, m := f.exportA(t, serviceFilter()); m.Chain != nil {
		t.Fatalf("chain %+v after the last entry was pruned", m.Chain)
	}
}

// pruningSource prunes an entry between the export's two passes, as a
// concurrent `auditlog db prune` would.
type pruningSource struct {
	*memlog.Log
	seq  int64
	done bool
}

func (p *pruningSource) ScanUser(ctx context.Context, user string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error) {
	if !p.done && len(f.Actions)+len(f.Families) == 0 { // pass 2 reads every entry
		p.done = true
		p.MarkPruned(p.seq)
	}
	return p.Log.ScanUser(ctx, user, f, after, before, limit)
}

// TestChainExportFailsWhenAPruneBreaksIt: an entry pruned while the export
// runs (in its chain pass, or, without filters, in its only pass, which
// checks the chain itself) fails the export with EUnavailable rather than
// handing out a bundle that does not verify.
func TestChainExportFailsWhenAPruneBreaksIt(t *testing.T) {
	for _, filter := range []auditlog.Filter{serviceFilter(), {}} {
		f := mixedFixture(t, 200, 0)
		all := f.userEntries(t, "usr_a")
		for _, victim := range []auditlog.Entry{all[len(all)/2], all[len(all)-1]} {
			src := &pruningSource{Log: f.log, seq: victim.Seq}
			_, _, err := f.exportFrom(t, src, filter)
			var e *auditlog.Error
			if !errors.As(err, &e) || e.Code != auditlog.EUnavailable {
				t.Fatalf("filter %+v: pruned seq %d during the export: %v", filter, victim.Seq, err)
			}
		}
		if _, _, err := f.exportFrom(t, f.log, filter); err != nil { // the log's last entry is pruned: no chain
			t.Fatalf("filter %+v: the export after the prunes: %v", filter, err)
		}
	}
}

// TestOldBundlesStillVerify: a log whose entries all come from before chains
// exports no chain (its files empty), and a bundle made before chains (five
// files, no manifest.chain) still verifies; neither claims completeness.
func TestOldBundlesStillVerify(t *testing.T) {
	f := mixedFixture(t, 150, 150)
	archive, m, err := f.exportFrom(t, f.log, serviceFilter())
	if err != nil {
		t.Fatal(err)
	}
	names, files := unpack(t, archive)
	if m.Chain != nil || len(names) != 7 || len(files[bundle.FileChain])+len(files[bundle.FileChainProofs]) != 0 {
		t.Fatalf("chain %+v, files %v", m.Chain, names)
	}
	if res, err := f.verify(t, archive); err != nil || res.Chain != nil {
		t.Fatalf("%+v %v", res.Chain, err)
	}
	// A bundle made before chains: five files, no manifest.chain.
	g := mixedFixture(t, 150, 0)
	archive, gm := g.exportA(t, serviceFilter())
	old := g.forge(t, archive, func(fg *forgery) { fg.names, fg.chain, fg.chainP, fg.m.Chain = fg.names[:5], nil, nil, nil })
	res, err := g.verify(t, old)
	if err != nil || res.Chain != nil || res.Entries != gm.Count {
		t.Fatalf("old bundle: %+v %v", res, err)
	}
	if _, err := integrity.OpenNote(files[bundle.FileManifest], f.key.Verifier()); err != nil {
		t.Fatal(err)
	}
}
