package bundle_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const origin = integrity.OriginPrefix + "00112233aabbccdd"

var base = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// fixture is a log of two users' interleaved entries with a checkpoint.
type fixture struct {
	log *memlog.Log
	key *integrity.Key
	cp  integrity.Checkpoint
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	l := memlog.New()
	k, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	batch := make([]auditlog.Entry, 0, 1000)
	for i := range n {
		actor, outcome := "usr_ana", auditlog.Success
		if i%3 == 2 {
			actor = "usr_bruno"
		}
		if i%5 == 4 {
			outcome = auditlog.Failed
		}
		batch = append(batch, auditlog.Entry{ID: fmt.Sprintf("evt-%07d", i), Action: "service.update", ResourceType: "service",
			ResourceID: fmt.Sprintf("svc_%d", i%7), ActorID: actor, Outcome: outcome, OccurredAt: base.Add(time.Duration(i) * time.Millisecond),
			Metadata: map[string]any{"diff": map[string]any{"replicas": []any{i % 4, i%4 + 1}}}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := l.Append(batch...); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	cp, err := integrity.NewCheckpointer(l, k, origin, nil).Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{log: l, key: k, cp: cp}
}

// export builds ana's bundle with the filter and returns the archive.
func (f *fixture) export(t testing.TB, filter auditlog.Filter) ([]byte, bundle.Manifest) {
	t.Helper()
	x, err := bundle.Prepare(context.Background(), f.log, bundle.Options{UserID: "usr_ana", Filter: filter,
		Checkpoint: f.cp, Key: f.key, Now: base, TempDir: t.TempDir(), PageSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	var buf bytes.Buffer
	n, err := x.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("write: %d of %d: %v", n, buf.Len(), err)
	}
	return buf.Bytes(), x.Manifest
}

func TestExportVerifies(t *testing.T) {
	f := newFixture(t, 500)
	archive, m := f.export(t, auditlog.Filter{Outcome: auditlog.Success})
	// ana has 2 of every 3 entries; 1 in 5 of all failed.
	want := 0
	for i := range 500 {
		if i%3 != 2 && i%5 != 4 {
			want++
		}
	}
	if m.Count != int64(want) || *m.FirstSeq != 0 || m.TreeSize != 500 || m.Filters.Outcome != "success" || m.UserID != "usr_ana" {
		t.Fatalf("manifest %+v", m)
	}
	res, err := bundle.Verify(bytes.NewReader(archive), f.key.Verifier(), bundle.VerifyOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != int64(want) || res.Origin != origin || res.Checkpoint.Size != 500 {
		t.Fatalf("result %+v", res)
	}
	empty, m := f.export(t, auditlog.Filter{ResourceID: "nothing"})
	if m.Count != 0 || m.FirstSeq != nil || m.LastSeq != nil {
		t.Fatalf("empty manifest %+v", m)
	}
	if _, err := bundle.Verify(bytes.NewReader(empty), f.key.Verifier(), bundle.VerifyOptions{}); err != nil {
		t.Fatalf("empty bundle: %v", err)
	}
}

// unpack reads every file of an archive, in order.
func unpack(t testing.TB, archive []byte) ([]string, map[string][]byte) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var names []string
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names, files
		} else if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		names, files[h.Name] = append(names, h.Name), b
	}
}

// repack writes files into a fresh single-member tar.gz, in the given order.
func repack(t testing.TB, names []string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range names {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(files[name])), Mode: 0o644})
		tw.Write(files[name])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestExportVerifiesIndependently checks a bundle with sumdb/tlog and note
// alone, as a customer without our code would.
func TestExportVerifiesIndependently(t *testing.T) {
	f := newFixture(t, 300)
	archive, _ := f.export(t, auditlog.Filter{})
	names, files := unpack(t, archive)
	if strings.Join(names, ",") != "checkpoint,key,manifest,entries.jsonl,proofs.jsonl,chain.jsonl,chain-proofs.jsonl" {
		t.Fatalf("files %v", names)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(files["key"])))
	if err != nil {
		t.Fatal(err)
	}
	cp, err := note.Open(files["checkpoint"], note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(cp.Text, "\n")
	var size int64
	fmt.Sscan(lines[1], &size)
	rootBytes, _ := base64.StdEncoding.DecodeString(lines[2])
	var root tlog.Hash
	copy(root[:], rootBytes)
	mn, err := note.Open(files["manifest"], note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Count  int
		SHA256 string `json:"sha256"`
	}
	json.Unmarshal([]byte(mn.Text), &m)
	sum := sha256.Sum256(files["entries.jsonl"])
	if m.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatal("manifest sha256")
	}
	entries := bufio.NewScanner(bytes.NewReader(files["entries.jsonl"]))
	entries.Buffer(nil, 1<<20)
	proofs := bufio.NewScanner(bytes.NewReader(files["proofs.jsonl"]))
	proofs.Buffer(nil, 1<<20)
	n := 0
	for entries.Scan() {
		proofs.Scan()
		var e struct{ Seq int64 }
		var p struct {
			Seq    int64
			Hashes []tlog.Hash // tlog.Hash decodes base64
		}
		json.Unmarshal(entries.Bytes(), &e)
		if err := json.Unmarshal(proofs.Bytes(), &p); err != nil || p.Seq != e.Seq {
			t.Fatalf("proof line %d: %v", n, err)
		}
		if err := tlog.CheckRecord(p.Hashes, size, root, e.Seq, tlog.RecordHash(entries.Bytes())); err != nil {
			t.Fatalf("seq %d: sumdb/tlog: %v", e.Seq, err)
		}
		n++
	}
	if n != m.Count || n != 200 {
		t.Fatalf("%d entries, manifest says %d", n, m.Count)
	}
	// Standard tools read the two gzip members as one archive.
	if tarBin, err := exec.LookPath("tar"); err == nil {
		cmd := exec.Command(tarBin, "-tzf", "-")
		cmd.Stdin = bytes.NewReader(archive)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.Fields(string(out))[4] != "proofs.jsonl" {
			t.Fatalf("tar -tzf: %v\n%s", err, out)
		}
	}
}

func TestVerifyCatchesTampering(t *testing.T) {
	f := newFixture(t, 200)
	archive, _ := f.export(t, auditlog.Filter{})
	names, orig := unpack(t, archive)
	clone := func() map[string][]byte {
		m := map[string][]byte{}
		for k, v := range orig {
			m[k] = bytes.Clone(v)
		}
		return m
	}
	lines := func(b []byte) [][]byte { return bytes.SplitAfter(b, []byte("\n")) }
	for _, c := range []struct {
		name  string
		edit  func(map[string][]byte) []string
		key   note.Verifier
		wants string
	}{
		{"intact, proofs first", func(m map[string][]byte) []string {
			return []string{"proofs.jsonl", "chain-proofs.jsonl", "checkpoint", "key", "manifest", "chain.jsonl", "entries.jsonl"}
		}, nil, ""},
		{"changed entry", func(m map[string][]byte) []string {
			m["entries.jsonl"] = bytes.Replace(m["entries.jsonl"], []byte(`"svc_3"`), []byte(`"svc_9"`), 1)
			return names
		}, nil, "seq 3: the inclusion proof does not lead"},
		{"deleted entry", func(m map[string][]byte) []string {
			e, p := lines(m["entries.jsonl"]), lines(m["proofs.jsonl"])
			m["entries.jsonl"] = bytes.Join(append(e[:10:10], e[11:]...), nil)
			m["proofs.jsonl"] = bytes.Join(append(p[:10:10], p[11:]...), nil)
			return names
		}, nil, "manifest: count"},
		{"swapped entries", func(m map[string][]byte) []string {
			e := lines(m["entries.jsonl"])
			e[4], e[5] = e[5], e[4]
			m["entries.jsonl"] = bytes.Join(e, nil)
			return names
		}, nil, "not in seq order"},
		{"forged proof", func(m map[string][]byte) []string {
			p := lines(m["proofs.jsonl"])
			i := bytes.Index(p[7], []byte(`"hashes":["`)) + len(`"hashes":["`)
			p[7][i] ^= 'A' ^ 'B' // another base64 digit
			m["proofs.jsonl"] = bytes.Join(p, nil)
			return names
		}, nil, "seq 10:"}, // ana's 8th entry
		{"edited manifest", func(m map[string][]byte) []string {
			m["manifest"] = bytes.Replace(m["manifest"], []byte(`"count":`), []byte(`"count":9`), 1)
			return names
		}, nil, "manifest: "},
		{"another key", func(m map[string][]byte) []string { return names }, otherKey(t).Verifier(), "checkpoint: "},
		{"no proofs", func(m map[string][]byte) []string { return names[:4] }, nil, "no proofs.jsonl"},
		{"extra file", func(m map[string][]byte) []string {
			m["notes.txt"] = []byte("hi")
			return append(names, "notes.txt")
		}, nil, "unexpected file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := clone()
			order := c.edit(m)
			v := c.key
			if v == nil {
				v = f.key.Verifier()
			}
			_, err := bundle.Verify(bytes.NewReader(repack(t, order, m)), v, bundle.VerifyOptions{TempDir: t.TempDir()})
			switch {
			case c.wants == "" && err != nil:
				t.Fatal(err)
			case c.wants != "" && (err == nil || !strings.Contains(err.Error(), c.wants)):
				t.Fatalf("got %v, want an error with %q", err, c.wants)
			}
		})
	}
}

func otherKey(t testing.TB) *integrity.Key {
	k, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestPrepareRefusesADamagedTree(t *testing.T) {
	f := newFixture(t, 100)
	f.log.SetNode(compact.NewNodeID(2, 3), bytes.Repeat([]byte{7}, 32))
	_, err := bundle.Prepare(context.Background(), f.log, bundle.Options{UserID: "usr_ana", Checkpoint: f.cp, Key: f.key, Now: base, TempDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "inclusion proof does not lead") {
		t.Fatalf("exported over a damaged tree: %v", err)
	}
}
