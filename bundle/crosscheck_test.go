package bundle_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/internal/memlog"
)

func TestCrossCheckCatchesALoweredCount(t *testing.T) {
	f := mixedFixture(t, 200, 0)
	archive, m := f.exportA(t, serviceFilter())
	all := f.userEntries(t, "usr_a")
	tail := all[len(all)-3:] // the forger leaves out the last three entries and says the actor has three fewer
	forged := f.forge(t, archive, func(fg *forgery) {
		for _, e := range tail {
			fg.drop(t, e.Seq)
		}
		fg.m.Chain.Count -= 3
	})
	main, err := f.verify(t, forged)
	if err != nil {
		t.Fatalf("the forged bundle alone: %v (nothing in it can tell)", err)
	}
	if main.Chain.Count != m.Chain.Count-3 {
		t.Fatalf("chain %+v", main.Chain)
	}
	// Not lowering the count is caught alone.
	if _, err := f.verify(t, f.forge(t, archive, func(fg *forgery) {
		for _, e := range tail {
			fg.drop(t, e.Seq)
		}
	})); err == nil || !strings.Contains(err.Error(), "entries #") {
		t.Fatalf("tail dropped, count kept: %v", err)
	}
	// A later honest export holds an entry the forged one claims does not exist.
	appendMixed(t, f.log, 200, 30)
	f.checkpoint(t)
	later, _ := f.exportA(t, auditlog.Filter{})
	other, err := f.verify(t, later)
	if err != nil {
		t.Fatal(err)
	}
	err = bundle.CrossCheck(main, bundle.Other{Name: "later.tar.gz", Result: other})
	mismatchAt(t, err, tail[0].Seq, fmt.Sprintf("seq %d (signed in later.tar.gz) is usr_a's entry #%d, but this bundle's manifest says usr_a has %d chained entries in the tree of size 200: entries were left out",
		tail[0].Seq, tail[0].Chain.ActorSeq, main.Chain.Count))
	// The honest bundle holds against the later one, and the later one against it.
	honest, err := f.verify(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	if err := bundle.CrossCheck(honest, bundle.Other{Name: "later", Result: other}); err != nil {
		t.Fatal(err)
	}
	if err := bundle.CrossCheck(other, bundle.Other{Name: "honest", Result: honest}); err != nil {
		t.Fatal(err)
	}
}

func TestCrossCheckCatchesAMissingEntry(t *testing.T) {
	// A lying log keeps two trees under one key: in the one it shows usr_a's
	// auditor, usr_a's service.update at seq 40 is usr_b's, and usr_a's chain
	// skips it, so that bundle verifies alone.
	honest, lying := mixedFixture(t, 120, 0), &fixture{log: memlog.New(), key: nil}
	lying.key = honest.key
	es := mixedEntries(0, 120)
	es[40].ActorID = "usr_b"
	if _, err := lying.log.Append(es...); err != nil {
		t.Fatal(err)
	}
	lying.checkpoint(t)
	archive, m := lying.exportA(t, serviceFilter())
	main, err := lying.verify(t, archive)
	if err != nil || m.Chain.FromSeq > 40 {
		t.Fatalf("the lying log's bundle alone: %+v %v", m.Chain, err)
	}
	honestArchive, _ := honest.exportA(t, serviceFilter())
	other, err := honest.verify(t, honestArchive)
	if err != nil {
		t.Fatal(err)
	}
	mismatchAt(t, bundle.CrossCheck(main, bundle.Other{Name: "honest.tar.gz", Result: other}), 40,
		"seq 40 (signed in honest.tar.gz) is usr_a's entry #27, but this bundle, which says it holds all of usr_a's entries from seq 0 to the end of the tree of size 120, does not")
}

func TestCrossCheckCatchesAFork(t *testing.T) {
	f := mixedFixture(t, 100, 0)
	archive, _ := f.exportA(t, auditlog.Filter{})
	main, err := f.verify(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	// Another log under the same key and origin, with other entries at the same seqs.
	g := &fixture{log: memlog.New(), key: f.key}
	appendMixed(t, g.log, 1, 100)
	g.checkpoint(t)
	forked, _ := g.exportA(t, auditlog.Filter{})
	other, err := g.verify(t, forked)
	if err != nil {
		t.Fatal(err)
	}
	mismatchAt(t, bundle.CrossCheck(main, bundle.Other{Name: "forked", Result: other}), 0, "this bundle and forked hold different entries at seq 0")
	if err := bundle.CrossCheck(main, bundle.Other{Name: "self", Result: main}); err != nil {
		t.Fatal(err)
	}
}
