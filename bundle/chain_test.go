package bundle_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
)

var chainActions = []string{"service.update", "project.create", "service.delete", "member.invite", "project.update"}

// appendMixed appends mixedEntries(first, n) to l.
func appendMixed(t testing.TB, l *memlog.Log, first, n int) {
	t.Helper()
	if _, err := l.Append(mixedEntries(first, n)...); err != nil {
		t.Fatal(err)
	}
}

// mixedEntries returns n entries numbered from first: two of every three
// usr_a's, the others usr_b's, the actions cycling over chainActions.
func mixedEntries(first, n int) []auditlog.Entry {
	var batch []auditlog.Entry
	for i := first; i < first+n; i++ {
		actor := "usr_a"
		if i%3 == 2 {
			actor = "usr_b"
		}
		batch = append(batch, auditlog.Entry{ID: fmt.Sprintf("evt-%07d", i), Action: chainActions[i%len(chainActions)],
			ResourceType: "service", ResourceID: fmt.Sprintf("svc_%d", i%7), ActorID: actor, Outcome: auditlog.Success,
			OccurredAt: base.Add(time.Duration(i) * time.Millisecond), Metadata: map[string]any{"i": i}})
	}
	return batch
}

// mixedFixture is a log of n mixed entries, the first unchained of them
// committed without actor chains (from before the upgrade), checkpointed.
func mixedFixture(t testing.TB, n, unchained int) *fixture {
	t.Helper()
	l := memlog.New()
	k, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	if unchained > 0 {
		l.Unchained = true
		appendMixed(t, l, 0, unchained)
		l.Unchained = false
	}
	appendMixed(t, l, unchained, n-unchained)
	f := &fixture{log: l, key: k}
	f.checkpoint(t)
	return f
}

// checkpoint signs the log's current tree.
func (f *fixture) checkpoint(t testing.TB) {
	t.Helper()
	cp, err := integrity.NewCheckpointer(f.log, f.key, origin, nil).Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	f.cp = cp
}

// serviceFilter keeps the service.* actions.
func serviceFilter() auditlog.Filter {
	var fl auditlog.Filter
	fl.AddActionPattern("service.*")
	return fl
}

// exportFrom builds usr_a's bundle from src with the filter.
func (f *fixture) exportFrom(t testing.TB, src bundle.Source, filter auditlog.Filter) ([]byte, bundle.Manifest, error) {
	t.Helper()
	x, err := bundle.Prepare(context.Background(), src, bundle.Options{UserID: "usr_a", Filter: filter,
		Checkpoint: f.cp, Key: f.key, Now: base, TempDir: t.TempDir(), PageSize: 16})
	if err != nil {
		return nil, bundle.Manifest{}, err
	}
	defer x.Close()
	var buf bytes.Buffer
	if _, err := x.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), x.Manifest, nil
}

// exportA builds usr_a's bundle from the fixture's log.
func (f *fixture) exportA(t testing.TB, filter auditlog.Filter) ([]byte, bundle.Manifest) {
	t.Helper()
	archive, m, err := f.exportFrom(t, f.log, filter)
	if err != nil {
		t.Fatal(err)
	}
	return archive, m
}

// verify checks an archive with the fixture's key, keeping its records.
func (f *fixture) verify(t testing.TB, archive []byte) (bundle.Result, error) {
	t.Helper()
	res, err := bundle.Verify(bytes.NewReader(archive), f.key.Verifier(), bundle.VerifyOptions{TempDir: t.TempDir(), KeepRecords: true})
	if err == nil {
		t.Cleanup(func() { res.Records.Close() })
	}
	return res, err
}

// userEntries returns all of the user's entries below the checkpoint's size.
func (f *fixture) userEntries(t testing.TB, user string) []auditlog.Entry {
	t.Helper()
	es, err := f.log.ScanUser(context.Background(), user, auditlog.Filter{}, -1, int64(f.cp.Size), 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// seqsOf returns the seqs of a .jsonl file's lines.
func seqsOf(t testing.TB, file []byte) []int64 {
	t.Helper()
	var out []int64
	for _, l := range bytes.SplitAfter(file, []byte("\n")) {
		if len(l) > 0 {
			out = append(out, lineSeq(t, l))
		}
	}
	return out
}

// lineSeq returns the seq of one entry or proof line.
func lineSeq(t testing.TB, line []byte) int64 {
	t.Helper()
	var v struct{ Seq int64 }
	if err := json.Unmarshal(line, &v); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return v.Seq
}

func TestChainExportWithFilters(t *testing.T) {
	f := mixedFixture(t, 300, 0)
	filter := serviceFilter()
	archive, m := f.exportA(t, filter)
	res, err := f.verify(t, archive)
	if err != nil {
		t.Fatal(err)
	}
	all := f.userEntries(t, "usr_a")
	var kept, left []int64
	for _, e := range all {
		if filter.Matches(&e) {
			kept = append(kept, e.Seq)
		} else if len(kept) > 0 {
			left = append(left, e.Seq)
		}
	}
	_, files := unpack(t, archive)
	if got := seqsOf(t, files[bundle.FileEntries]); !slices.Equal(got, kept) {
		t.Fatalf("entries.jsonl %v, want %v", got, kept)
	}
	if got := seqsOf(t, files[bundle.FileChain]); !slices.Equal(got, left) || !slices.Equal(seqsOf(t, files[bundle.FileChainProofs]), left) {
		t.Fatalf("chain.jsonl %v, want %v", got, left)
	}
	sum := sha256.Sum256(files[bundle.FileChain])
	want := bundle.Chain{ActorID: "usr_a", FromSeq: kept[0], FromActorSeq: all[slices.IndexFunc(all, func(e auditlog.Entry) bool { return e.Seq == kept[0] })].Chain.ActorSeq,
		Count: int64(len(all)), Entries: int64(len(left)), SHA256: hex.EncodeToString(sum[:])}
	if m.Chain == nil || *m.Chain != want {
		t.Fatalf("manifest chain %+v, want %+v", m.Chain, want)
	}
	if res.Chain == nil || res.Chain.FromSeq != kept[0] || res.Chain.Count != int64(len(all)) || res.Chain.TreeSize != 300 || res.Chain.Entries != int64(len(left)) {
		t.Fatalf("result chain %+v", res.Chain)
	}
	if res.Records.Len() != int64(len(kept)+len(left)) {
		t.Fatalf("%d records", res.Records.Len())
	}
	if ev := m.Event("", ""); ev.Metadata["chain_count"] != int64(len(all)) {
		t.Fatalf("event metadata %v", ev.Metadata)
	}
	// Every entry kept: the chain holds nothing.
	archive, m = f.exportA(t, auditlog.Filter{})
	if _, err := f.verify(t, archive); err != nil || m.Chain.Entries != 0 || m.Chain.Count != int64(len(all)) || m.Chain.FromActorSeq != 0 {
		t.Fatalf("unfiltered: %+v %v", m.Chain, err)
	}
	// Nothing kept: no chain.
	archive, m = f.exportA(t, auditlog.Filter{ResourceID: "nothing"})
	if res, err := f.verify(t, archive); err != nil || m.Chain != nil || res.Chain != nil {
		t.Fatalf("empty: %+v %v", m.Chain, err)
	}
}

// forgery is a bundle a forger holding the signing key rewrites.
type forgery struct {
	names                          []string
	files                          map[string][]byte
	entries, proofs, chain, chainP [][]byte
	m                              bundle.Manifest
}

// forge unpacks an archive, lets edit change its lines and manifest, fixes
// the manifest's count, seqs and hashes, re-signs it and repacks.
func (f *fixture) forge(t testing.TB, archive []byte, edit func(*forgery)) []byte {
	t.Helper()
	names, files := unpack(t, archive)
	lines := func(b []byte) [][]byte {
		var out [][]byte
		for _, l := range bytes.SplitAfter(b, []byte("\n")) {
			if len(l) > 0 {
				out = append(out, l)
			}
		}
		return out
	}
	text, err := integrity.OpenNote(files[bundle.FileManifest], f.key.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	fg := &forgery{names: names, files: files, entries: lines(files[bundle.FileEntries]), proofs: lines(files[bundle.FileProofs]),
		chain: lines(files[bundle.FileChain]), chainP: lines(files[bundle.FileChainProofs])}
	if err := json.Unmarshal([]byte(text), &fg.m); err != nil {
		t.Fatal(err)
	}
	edit(fg)
	files[bundle.FileEntries], files[bundle.FileProofs] = bytes.Join(fg.entries, nil), bytes.Join(fg.proofs, nil)
	files[bundle.FileChain], files[bundle.FileChainProofs] = bytes.Join(fg.chain, nil), bytes.Join(fg.chainP, nil)
	fg.m.Count, fg.m.FirstSeq, fg.m.LastSeq = int64(len(fg.entries)), nil, nil
	if n := len(fg.entries); n > 0 {
		first, last := lineSeq(t, fg.entries[0]), lineSeq(t, fg.entries[n-1])
		fg.m.FirstSeq, fg.m.LastSeq = &first, &last
	}
	sum := sha256.Sum256(files[bundle.FileEntries])
	fg.m.SHA256 = hex.EncodeToString(sum[:])
	if fg.m.Chain != nil {
		sum := sha256.Sum256(files[bundle.FileChain])
		fg.m.Chain.Entries, fg.m.Chain.SHA256 = int64(len(fg.chain)), hex.EncodeToString(sum[:])
	}
	raw, _ := json.Marshal(fg.m)
	if files[bundle.FileManifest], err = f.key.Sign(string(raw) + "\n"); err != nil {
		t.Fatal(err)
	}
	return repack(t, fg.names, files)
}

// drop removes the line of seq (and its proof) from entries or chain.
func (fg *forgery) drop(t testing.TB, seq int64) {
	t.Helper()
	for _, p := range []struct{ lines, proofs *[][]byte }{{&fg.entries, &fg.proofs}, {&fg.chain, &fg.chainP}} {
		for i, l := range *p.lines {
			if lineSeq(t, l) == seq {
				*p.lines = slices.Delete(*p.lines, i, i+1)
				*p.proofs = slices.Delete(*p.proofs, i, i+1)
				return
			}
		}
	}
	t.Fatalf("no seq %d to drop", seq)
}

// move moves the line of seq (and its proof) from entries to chain, in seq order.
func (fg *forgery) move(t testing.TB, seq int64) {
	t.Helper()
	i := slices.IndexFunc(fg.entries, func(l []byte) bool { return lineSeq(t, l) == seq })
	line, proof := fg.entries[i], fg.proofs[i]
	fg.drop(t, seq)
	j := slices.IndexFunc(fg.chain, func(l []byte) bool { return lineSeq(t, l) > seq })
	if j < 0 {
		j = len(fg.chain)
	}
	fg.chain, fg.chainP = slices.Insert(fg.chain, j, line), slices.Insert(fg.chainP, j, proof)
}

// mismatchAt asserts err is an *integrity.Mismatch at seq whose reason holds want.
func mismatchAt(t testing.TB, err error, seq int64, want string) {
	t.Helper()
	var m *integrity.Mismatch
	if !errors.As(err, &m) || m.Seq != seq || !strings.Contains(m.Reason, want) {
		t.Fatalf("got %v, want a mismatch at seq %d with %q", err, seq, want)
	}
}

func TestChainRejectsForgedBundles(t *testing.T) {
	f := mixedFixture(t, 300, 0)
	archive, m := f.exportA(t, serviceFilter())
	_, files := unpack(t, archive)
	kept, left := seqsOf(t, files[bundle.FileEntries]), seqsOf(t, files[bundle.FileChain])
	all := f.userEntries(t, "usr_a")
	prevOf := func(seq int64) int64 {
		i := slices.IndexFunc(all, func(e auditlog.Entry) bool { return e.Seq == seq })
		return all[i-1].Seq
	}
	t.Run("entry dropped", func(t *testing.T) {
		seq := kept[len(kept)/2]
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.drop(t, seq) }))
		mismatchAt(t, err, seq, fmt.Sprintf("chain has a gap: entry #%d (actor_seq %d) is missing between seq %d and", all[slices.IndexFunc(all, func(e auditlog.Entry) bool { return e.Seq == seq })].Chain.ActorSeq, all[slices.IndexFunc(all, func(e auditlog.Entry) bool { return e.Seq == seq })].Chain.ActorSeq, prevOf(seq)))
		if !strings.Contains(err.Error(), fmt.Sprintf("says its previous entry is seq %d", seq)) {
			t.Fatal(err)
		}
	})
	t.Run("chain entry dropped", func(t *testing.T) {
		seq := left[len(left)/2]
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.drop(t, seq) }))
		mismatchAt(t, err, seq, "chain has a gap")
	})
	t.Run("matching entry moved to the chain", func(t *testing.T) {
		seq := kept[len(kept)/2]
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.move(t, seq) }))
		mismatchAt(t, err, seq, fmt.Sprintf("seq %d matches the filters but is not in entries.jsonl", seq))
	})
	t.Run("filters narrowed", func(t *testing.T) {
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.m.Filters.ActionType = []string{"service.update"} }))
		if err == nil || !strings.Contains(err.Error(), "does not match the manifest's filters") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("another user's bundle", func(t *testing.T) {
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.m.UserID, fg.m.Chain.ActorID = "usr_b", "usr_b" }))
		if err == nil || !strings.Contains(err.Error(), "the entry is usr_a's, not usr_b's") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("tail dropped", func(t *testing.T) {
		last := all[len(all)-1]
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.drop(t, last.Seq) }))
		mismatchAt(t, err, prevOf(last.Seq), fmt.Sprintf("the manifest says the actor has %d chained entries but the bundle ends at actor_seq %d: entry #%d (actor_seq %d) is missing",
			m.Chain.Count, last.Chain.ActorSeq-1, last.Chain.ActorSeq, last.Chain.ActorSeq))
	})
	t.Run("start moved", func(t *testing.T) {
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.m.Chain.FromSeq = left[0] }))
		mismatchAt(t, err, left[0], "is not after the chain's start")
	})
	t.Run("chain removed", func(t *testing.T) {
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.m.Chain = nil }))
		if err == nil || !strings.Contains(err.Error(), "the manifest states no chain") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("chain file removed", func(t *testing.T) {
		_, err := f.verify(t, f.forge(t, archive, func(fg *forgery) { fg.names = fg.names[:5] }))
		if err == nil || !strings.Contains(err.Error(), "no chain.jsonl") {
			t.Fatalf("got %v", err)
		}
	})
}
