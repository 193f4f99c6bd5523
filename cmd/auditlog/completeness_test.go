package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
)

// TestVerifyCompleteWithOtherBundles exports through `auditlog export` from a
// real SQLite database and checks what `auditlog verify` says of completeness,
// alone and --with a later export, of an honest bundle and of one a holder of
// the signing key shortened.
func TestVerifyCompleteWithOtherBundles(t *testing.T) {
	ts := MustStart(t)
	post := func(from, to int) {
		for i := from; i < to; i++ {
			actor := "usr_ana"
			if i%4 == 0 {
				actor = "usr_bruno"
			}
			ts.mustPost(map[string]any{"id": fmt.Sprintf("evt-%02d", i), "action": []string{"service.update", "project.create", "service.delete"}[i%3],
				"resource_type": "service", "resource_id": "svc_api", "actor_id": actor, "outcome": "success"})
		}
	}
	post(0, 30)
	keyFile := filepath.Join(t.TempDir(), "verifier.key")
	os.WriteFile(keyFile, ts.do("GET", "/v1/checkpoint/key", "", nil).Body, 0o644)
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.tar.gz"), filepath.Join(dir, "second.tar.gz")
	if code, _, errOut := run(t, "export", "--user", "usr_ana", "--db", ts.path, "--action-type", "service.*", "-o", first); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	code, stdout, errOut := run(t, "verify", first, "--key", keyFile)
	if code != 0 {
		t.Fatalf("verify: %s %s", stdout, errOut)
	}
	post(30, 40)
	ts.checkpointSize(41) // the 40 entries and the first export's record
	if code, _, errOut := run(t, "export", "--user", "usr_ana", "--db", ts.path, "-o", second); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if code, out, errOut := run(t, "verify", first, "--key", keyFile, "--with", second); code != 0 ||
		!strings.Contains(out, "OK: "+second+": ") || !strings.Contains(out, "no fork") {
		t.Fatalf("verify --with: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := run(t, "verify", "--db", ts.path, "--with", second); code == 0 {
		t.Fatalf("verify --db --with: %s %s", out, errOut)
	}
	if !bytes.Contains(readBundle(t, first)[bundle.FileEntries], []byte(`"actor_seq":`)) {
		t.Fatalf("the export's entries carry no actor chain")
	}
	if !strings.Contains(stdout, "OK: complete: no entry of usr_ana matching the filters is missing from seq ") ||
		!strings.Contains(stdout, "to the end of tree 30 (usr_ana has 22 chained entries in it)") {
		t.Fatalf("verify: %s", stdout)
	}
	// The key holder leaves out ana's last two entries and lowers the count.
	key, err := integrity.LoadKey(ts.signingKeyFile(t))
	if err != nil {
		t.Fatal(err)
	}
	forged := filepath.Join(dir, "forged.tar.gz")
	os.WriteFile(forged, shorten(t, readBundle(t, first), key, 2), 0o644)
	if code, out, errOut := run(t, "verify", forged, "--key", keyFile); code != 0 || !strings.Contains(out, "usr_ana has 20 chained entries") {
		t.Fatalf("the forged bundle alone: %d %s %s", code, out, errOut)
	}
	code, out, errOut := run(t, "verify", forged, "--key", keyFile, "--with", second)
	if code == 0 || !strings.Contains(errOut, "(signed in "+second+") is usr_ana's entry #20, but this bundle's manifest says usr_ana has 20 chained entries in the tree of size 30: entries were left out") {
		t.Fatalf("verify --with a later export: %d %s %s", code, out, errOut)
	}
	// Without lowering the count, the bundle alone fails.
	os.WriteFile(forged, shorten(t, readBundle(t, first), key, 0), 0o644)
	if code, _, errOut := run(t, "verify", forged, "--key", keyFile); code == 0 || !strings.Contains(errOut, "entries #20-#21 are missing") {
		t.Fatalf("the forged bundle alone: %d %s", code, errOut)
	}
	// One entry removed from the middle, everything re-signed: the bundle
	// alone fails, naming the gap.
	files := readBundle(t, first)
	e, p, c, cp := bundleLines(files)
	gone := seqOf(e[len(e)/2])
	e, p = slices.Delete(e, len(e)/2, len(e)/2+1), slices.Delete(p, len(p)/2, len(p)/2+1)
	os.WriteFile(forged, repack(t, files, key, e, p, c, cp, 0), 0o644)
	if code, _, errOut := run(t, "verify", forged, "--key", keyFile); code == 0 || !strings.Contains(errOut, "gap") ||
		!strings.Contains(errOut, fmt.Sprintf("seq %d", gone)) {
		t.Fatalf("a bundle without seq %d: %d %s", gone, code, errOut)
	} else {
		t.Logf("without seq %d: %s", gone, errOut)
	}
	// The README's recipe for checking completeness without our tool, run
	// as written: it passes the honest bundle and catches the gap.
	honest := readBundle(t, first)
	he, _, hc, _ := bundleLines(honest)
	readmeRecipe(t, honest, he, hc, true)
	readmeRecipe(t, honest, e, hc, false)
}

// readmeRecipe runs the README's Python completeness check on a bundle's
// manifest and the given entries and chain lines; ok says whether it must pass.
func readmeRecipe(t *testing.T, files map[string][]byte, entries, chain [][]byte, ok bool) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3 is needed for the README's completeness recipe")
		}
		t.Skip("python3 is not installed")
	}
	dir := t.TempDir()
	body, _, _ := bytes.Cut(files[bundle.FileManifest], []byte("\n\n"))
	for name, b := range map[string][]byte{"manifest": body, "entries": bytes.Join(entries, nil), "chain": bytes.Join(chain, nil)} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	src := "import sys\nd = sys.argv[1]\nmanifest_body = open(d + '/manifest').read()\n" +
		"entries_lines = open(d + '/entries').read().splitlines()\nchain_lines = open(d + '/chain').read().splitlines()\n" +
		readmeBlock(t, "**5. Verify completeness without our tool**", "python")
	out, err := exec.Command(py, "-c", src, dir).CombinedOutput()
	if ok && err != nil || !ok && (err == nil || !strings.Contains(string(out), "AssertionError: gap before seq")) {
		t.Fatalf("README recipe (want pass=%v): %v\n%s", ok, err, out)
	}
}

// readBundle reads a bundle's files.
func readBundle(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return files
		} else if err != nil {
			t.Fatal(err)
		}
		files[h.Name], _ = io.ReadAll(tr)
	}
}

// bundleLines splits a bundle's content files into lines (newlines kept).
func bundleLines(files map[string][]byte) (e, p, c, cp [][]byte) {
	lines := func(name string) [][]byte {
		return slices.DeleteFunc(bytes.SplitAfter(files[name], []byte("\n")), func(l []byte) bool { return len(l) == 0 })
	}
	return lines(bundle.FileEntries), lines(bundle.FileProofs), lines(bundle.FileChain), lines(bundle.FileChainProofs)
}

// seqOf reads the seq of an entry or proof line.
func seqOf(l []byte) int64 {
	var v struct{ Seq int64 }
	json.Unmarshal(l, &v)
	return v.Seq
}

// shorten drops the user's last two chain members from a bundle's files,
// lowers the manifest's chain count by lower, re-signs it, and packs it.
func shorten(t *testing.T, files map[string][]byte, key *integrity.Key, lower int64) []byte {
	t.Helper()
	e, p, c, cp := bundleLines(files)
	for range 2 {
		if len(c) > 0 && (len(e) == 0 || seqOf(c[len(c)-1]) > seqOf(e[len(e)-1])) {
			c, cp = c[:len(c)-1], cp[:len(cp)-1]
		} else {
			e, p = e[:len(e)-1], p[:len(p)-1]
		}
	}
	return repack(t, files, key, e, p, c, cp, lower)
}

// repack writes the given lines back as the bundle's content files, fixes
// the manifest to match them (lowering its chain count by lower), re-signs
// it with the log's key, as a key holder could, and packs the archive.
func repack(t *testing.T, files map[string][]byte, key *integrity.Key, e, p, c, cp [][]byte, lower int64) []byte {
	t.Helper()
	text, err := integrity.OpenNote(files[bundle.FileManifest], key.Verifier())
	if err != nil {
		t.Fatal(err)
	}
	var m bundle.Manifest
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		t.Fatal(err)
	}
	files[bundle.FileEntries], files[bundle.FileProofs] = bytes.Join(e, nil), bytes.Join(p, nil)
	files[bundle.FileChain], files[bundle.FileChainProofs] = bytes.Join(c, nil), bytes.Join(cp, nil)
	first, last := seqOf(e[0]), seqOf(e[len(e)-1])
	sum, csum := sha256.Sum256(files[bundle.FileEntries]), sha256.Sum256(files[bundle.FileChain])
	m.Count, m.FirstSeq, m.LastSeq, m.SHA256 = int64(len(e)), &first, &last, hex.EncodeToString(sum[:])
	m.Chain.Entries, m.Chain.SHA256, m.Chain.Count = int64(len(c)), hex.EncodeToString(csum[:]), m.Chain.Count-lower
	raw, _ := json.Marshal(m)
	if files[bundle.FileManifest], err = key.Sign(string(raw) + "\n"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, name := range []string{bundle.FileCheckpoint, bundle.FileKey, bundle.FileManifest, bundle.FileEntries, bundle.FileProofs, bundle.FileChain, bundle.FileChainProofs} {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: int64(len(files[name])), Mode: 0o644})
		tw.Write(files[name])
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
