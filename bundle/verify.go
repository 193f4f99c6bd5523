package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"golang.org/x/mod/sumdb/note"
)

// Limits on what a bundle may hold, so a hostile archive cannot exhaust memory.
const (
	maxSmallFile = 64 << 10 // checkpoint, key, manifest
	maxLine      = 16 << 20 // one line of entries.jsonl, proofs.jsonl, chain.jsonl or chain-proofs.jsonl
)

// VerifyOptions tune Verify; the zero value is usable.
type VerifyOptions struct {
	TempDir  string                  // where per-entry leaf hashes are spooled ("" for the system's)
	Progress func(done, total int64) // called every few thousand lines; total is 2 x the manifest's count
	// Witnesses are the witnesses' cosignature verifiers; at least
	// WitnessesRequired of them must have cosigned the bundle's checkpoint.
	Witnesses         []note.Verifier
	WitnessesRequired int
	// KeepRecords keeps the bundle's entries as spooled records in
	// Result.Records, for CrossCheck; the caller closes them.
	KeepRecords bool
}

// Result is what a verified bundle holds.
type Result struct {
	Origin     string               // the log's origin, from the checkpoint
	Checkpoint integrity.Checkpoint // the signed tree head
	Manifest   Manifest             // the signed manifest
	Entries    int64                // entries verified
	Cosigned   []string             // names of the given witnesses that cosigned the checkpoint
	Chain      *ChainResult         // the completeness proven; nil for a bundle without a chain
	Records    *Records             // the entries' records, with VerifyOptions.KeepRecords
}

// ChainResult is what a verified chain proves: no entry of ActorID matching
// the filters is missing from FromSeq to the end of the tree of TreeSize
// entries, in which the actor has Count chained entries.
type ChainResult struct {
	ActorID  string // whose chain
	FromSeq  int64  // where completeness starts
	Count    int64  // the actor's chained entries in the tree
	TreeSize uint64 // the tree's size
	Entries  int64  // lines of chain.jsonl verified
}

// Verify checks a bundle offline with the verifier key: the checkpoint's and
// the manifest's signatures, every entry's leaf hash and inclusion proof
// against the checkpoint's root, the seq order, that every entry is the
// user's and matches the manifest's filters, and the manifest's count, first
// and last seq, tree size and SHA-256 of entries.jsonl. With a chain it also
// checks chain.jsonl likewise and that the user's entries form an unbroken
// chain from the chain's start to its count (completeness). A failure at
// one entry is an *integrity.Mismatch naming its seq.
func Verify(r io.Reader, v note.Verifier, opts VerifyOptions) (Result, error) {
	vf := &verifier{v: v, opts: opts, files: map[string]bool{}, first: -1, last: -1,
		pending: map[string]*os.File{}, processed: map[string]bool{}, chainLast: -1}
	defer vf.cleanup()
	res, err := vf.run(r)
	if err != nil {
		return Result{}, fmt.Errorf("verify bundle: %w", err)
	}
	return res, nil
}

// verifier holds one verification's state.
type verifier struct {
	v     note.Verifier
	opts  VerifyOptions
	files map[string]bool

	checkpointMsg, manifestMsg []byte
	bundledKey                 string
	origin                     string
	cp                         integrity.Checkpoint
	manifest                   Manifest
	cosigned                   []string
	opened                     bool

	filter             auditlog.Filter // the manifest's filters
	count, first, last int64
	sum                []byte
	leaves             *os.File            // a record per entries.jsonl line
	pending            map[string]*os.File // content files spooled until what they need has come
	processed          map[string]bool     // content files checked
	done, total        int64

	chainCount, chainLast int64
	chainSum              []byte
	chainLeaves           *os.File // a record per chain.jsonl line
	records               *Records // kept for the result
}

// run reads the archive in one pass.
func (vf *verifier) run(r io.Reader) (Result, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return Result{}, fmt.Errorf("not a gzip archive: %w", err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return Result{}, fmt.Errorf("read archive: %w", err)
		}
		if vf.files[h.Name] {
			return Result{}, fmt.Errorf("the archive holds %s twice", h.Name)
		}
		vf.files[h.Name] = true
		if h.Typeflag != tar.TypeReg {
			return Result{}, fmt.Errorf("unexpected %q in the archive: not a regular file", h.Name)
		}
		if err := vf.file(h.Name, tr); err != nil {
			return Result{}, err
		}
	}
	for _, name := range []string{FileCheckpoint, FileKey, FileManifest, FileEntries, FileProofs} {
		if !vf.files[name] {
			return Result{}, fmt.Errorf("the archive has no %s", name)
		}
	}
	if vf.files[FileChain] != vf.files[FileChainProofs] {
		return Result{}, fmt.Errorf("the archive has only one of %s and %s", FileChain, FileChainProofs)
	}
	for _, name := range contentFiles {
		if f := vf.pending[name]; f != nil {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return Result{}, err
			}
			if err := vf.content(name, f); err != nil {
				return Result{}, err
			}
		}
	}
	if err := vf.checkManifest(); err != nil {
		return Result{}, err
	}
	chain, err := vf.checkChain()
	if err != nil {
		return Result{}, err
	}
	res := Result{Origin: vf.origin, Checkpoint: vf.cp, Manifest: vf.manifest, Entries: vf.count, Cosigned: vf.cosigned,
		Chain: chain, Records: vf.records}
	vf.records = nil // the caller's now
	return res, nil
}

// contentFiles are the files checked line by line, in the order they must be
// checked: each needs the ones before it.
var contentFiles = []string{FileEntries, FileProofs, FileChain, FileChainProofs}

// ready reports whether a content file can be checked as it is read: the
// checkpoint and the manifest have come, and the file it needs is checked.
func (vf *verifier) ready(name string) bool {
	if vf.checkpointMsg == nil || vf.manifestMsg == nil {
		return false
	}
	switch name {
	case FileProofs, FileChain:
		return vf.processed[FileEntries]
	case FileChainProofs:
		return vf.processed[FileChain]
	}
	return true
}

// content checks one content file.
func (vf *verifier) content(name string, r io.Reader) error {
	if err := vf.open(); err != nil {
		return err
	}
	var err error
	switch name {
	case FileEntries:
		err = vf.readEntries(r)
	case FileProofs:
		err = vf.checkProofs(r, FileProofs, FileEntries, vf.leaves, vf.count)
	case FileChain:
		err = vf.readChain(r)
	case FileChainProofs:
		err = vf.checkProofs(r, FileChainProofs, FileChain, vf.chainLeaves, vf.chainCount)
	}
	vf.processed[name] = true
	return err
}

// file handles one archive member.
func (vf *verifier) file(name string, r io.Reader) error {
	small := func() ([]byte, error) {
		b, err := io.ReadAll(io.LimitReader(r, maxSmallFile+1))
		if err == nil && len(b) > maxSmallFile {
			err = fmt.Errorf("%s is larger than %d bytes", name, maxSmallFile)
		}
		return b, err
	}
	var err error
	switch name {
	case FileCheckpoint:
		vf.checkpointMsg, err = small()
	case FileManifest:
		if vf.manifestMsg, err = small(); err == nil {
			if body, _, ok := bytes.Cut(vf.manifestMsg, []byte("\n\n")); ok {
				var m Manifest // not verified yet: only for the progress total
				if json.Unmarshal(body, &m) == nil {
					vf.total = 2 * m.Count
					if m.Chain != nil {
						vf.total += 2 * m.Chain.Entries
					}
				}
			}
		}
	case FileKey:
		var b []byte
		b, err = small()
		vf.bundledKey = strings.TrimSpace(string(b))
	case FileEntries, FileProofs, FileChain, FileChainProofs:
		if !vf.ready(name) {
			return vf.spool(name, r)
		}
		err = vf.content(name, r)
	default:
		return fmt.Errorf("unexpected file %q in the archive", name)
	}
	return err
}

// open verifies the checkpoint's and the manifest's signatures, once.
func (vf *verifier) open() error {
	if vf.opened {
		return nil
	}
	if vf.checkpointMsg == nil || vf.manifestMsg == nil {
		return errors.New("the archive has no checkpoint or no manifest")
	}
	var err error
	if vf.origin, vf.cp, err = integrity.OpenCheckpoint(vf.checkpointMsg, vf.v); err != nil {
		return fmt.Errorf("checkpoint: %w%s", err, vf.keyHint())
	}
	if len(vf.opts.Witnesses) > 0 {
		if vf.cosigned, err = witness.Require(vf.checkpointMsg, vf.opts.Witnesses, vf.opts.WitnessesRequired); err != nil {
			return fmt.Errorf("checkpoint %d: %w", vf.cp.Size, err)
		}
	}
	if vf.manifest, err = OpenManifest(vf.manifestMsg, vf.v); err != nil {
		return fmt.Errorf("manifest: %w%s", err, vf.keyHint())
	}
	if vf.manifest.TreeSize != vf.cp.Size {
		return fmt.Errorf("manifest: tree_size %d is not the checkpoint's size %d", vf.manifest.TreeSize, vf.cp.Size)
	}
	if vf.filter, err = vf.manifest.Filters.Filter(); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	vf.opened = true
	return nil
}

// keyHint says when the bundle names another key than the one given.
func (vf *verifier) keyHint() string {
	bv, err := note.NewVerifier(vf.bundledKey)
	if err != nil || (bv.Name() == vf.v.Name() && bv.KeyHash() == vf.v.KeyHash()) {
		return ""
	}
	return fmt.Sprintf(" (the bundle's key file names %s+%08x; you gave %s+%08x)", bv.Name(), bv.KeyHash(), vf.v.Name(), vf.v.KeyHash())
}

// readEntries hashes entries.jsonl, checks the seq order, that every entry
// is the user's and matches the filters, and spools each entry's record
// (seq, leaf hash, chain) for the proofs and the chain.
func (vf *verifier) readEntries(r io.Reader) error {
	sum, err := vf.readRecords(r, FileEntries, &vf.leaves, &vf.last, func(seq int64, rec record, matches bool) error {
		if !matches {
			return errors.New("the entry does not match the manifest's filters")
		}
		if vf.first < 0 {
			vf.first = seq
		}
		vf.count++
		return nil
	})
	vf.sum = sum
	return err
}

// readRecords reads a file of canonical entries (entries.jsonl or
// chain.jsonl): it hashes the file, checks that seqs rise after *last,
// inspects each entry, lets check judge it (its error becomes a Mismatch at
// the entry's seq and line), and spools its record to a new temporary file
// in *spool. It returns the file's SHA-256.
func (vf *verifier) readRecords(r io.Reader, name string, spool **os.File, last *int64, check func(seq int64, rec record, matches bool) error) ([]byte, error) {
	var err error
	if *spool, err = os.CreateTemp(vf.opts.TempDir, "auditlog-verify-records-*"); err != nil {
		return nil, err
	}
	sum := sha256.New()
	lw := bufio.NewWriterSize(*spool, 1<<16)
	lh := sha256.New()
	var buf [recordSize]byte
	err = eachLine(r, sum, func(body []byte, n int64) error {
		seq, err := entrySeq(body)
		if err != nil {
			return &integrity.Mismatch{Seq: *last + 1, Reason: fmt.Sprintf("%s line %d (after seq %d): %v", name, n, *last, err)}
		}
		bad := func(err error) error {
			return &integrity.Mismatch{Seq: seq, Reason: fmt.Sprintf("%s line %d: %v", name, n, err)}
		}
		if seq <= *last {
			return bad(fmt.Errorf("seq %d after seq %d: entries are not in seq order", seq, *last))
		}
		rec, matches, err := vf.inspect(body, seq, lh)
		if err != nil {
			return bad(err)
		}
		if err := check(seq, rec, matches); err != nil {
			return bad(err)
		}
		*last = seq
		rec.put(buf[:])
		lw.Write(buf[:])
		vf.tick()
		return nil
	})
	if err != nil {
		return nil, inFile(name, err)
	}
	return sum.Sum(nil), lw.Flush()
}

// inFile names the file a reading error came from, unless it is a
// *integrity.Mismatch, which names its seq and line itself.
func inFile(name string, err error) error {
	var m *integrity.Mismatch
	if errors.As(err, &m) {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// leafHash appends SHA-256(0x00 || body) to dst, reusing h.
func leafHash(h hash.Hash, body, dst []byte) []byte {
	h.Reset()
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(dst)
}

// spool keeps a content file until what it needs has come.
func (vf *verifier) spool(name string, r io.Reader) error {
	f, err := os.CreateTemp(vf.opts.TempDir, "auditlog-verify-spool-*")
	if err != nil {
		return err
	}
	vf.pending[name] = f
	_, err = io.Copy(f, r)
	return err
}

// checkProofs verifies every line of a proofs file (name) against the
// records spooled from its entries file (of, count lines).
func (vf *verifier) checkProofs(r io.Reader, name, of string, leaves *os.File, count int64) error {
	if _, err := leaves.Seek(0, io.SeekStart); err != nil {
		return err
	}
	lr := bufio.NewReaderSize(leaves, 1<<16)
	pc := newPathChecker(vf.cp.Head())
	var (
		buf    [recordSize]byte
		hashes [2][][]byte // alternating: the checker compares a proof with the previous one
		lines  int64
	)
	err := eachLine(r, nil, func(body []byte, n int64) error {
		lines = n
		if n > count {
			return fmt.Errorf("%s has more lines than %s (%d)", name, of, count)
		}
		if _, err := io.ReadFull(lr, buf[:]); err != nil {
			return fmt.Errorf("read leaf hashes: %w", err)
		}
		var rec record
		rec.get(buf[:])
		pseq, hs, err := parseProofLine(body, hashes[n%2])
		if err != nil {
			return &integrity.Mismatch{Seq: rec.seq, Reason: fmt.Sprintf("%s line %d: %v", name, n, err)}
		}
		hashes[n%2] = hs
		if pseq != rec.seq {
			return &integrity.Mismatch{Seq: rec.seq, Reason: fmt.Sprintf("%s line %d is for seq %d, %s line %d is seq %d", name, n, pseq, of, n, rec.seq)}
		}
		if err := pc.check(uint64(rec.seq), rec.leaf[:], hs, decodeHash); err != nil {
			return &integrity.Mismatch{Seq: rec.seq, Reason: err.Error()}
		}
		vf.tick()
		return nil
	})
	if err != nil {
		return inFile(name, err)
	}
	if lines != count {
		return fmt.Errorf("%s has %d lines, %s %d", name, lines, of, count)
	}
	return nil
}

// checkManifest compares the signed manifest with what the files hold.
func (vf *verifier) checkManifest() error {
	if err := vf.open(); err != nil {
		return err
	}
	m := vf.manifest
	if m.Count != vf.count {
		return fmt.Errorf("manifest: count %d, but entries.jsonl holds %d entries", m.Count, vf.count)
	}
	if got := hex.EncodeToString(vf.sum); !strings.EqualFold(m.SHA256, got) {
		return fmt.Errorf("manifest: sha256 %s, but entries.jsonl hashes to %s", m.SHA256, got)
	}
	if !sameSeq(m.FirstSeq, vf.first) || !sameSeq(m.LastSeq, vf.last) {
		return fmt.Errorf("manifest: first_seq/last_seq %s/%s, but entries.jsonl goes from %d to %d",
			seqText(m.FirstSeq), seqText(m.LastSeq), vf.first, vf.last)
	}
	return nil
}

// sameSeq compares a manifest seq (nil when there are no entries) with one seen (-1 when none).
func sameSeq(m *int64, seen int64) bool {
	if m == nil {
		return seen < 0
	}
	return *m == seen
}

// seqText renders a manifest seq, null when absent.
func seqText(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// tick reports progress every 4096 lines.
func (vf *verifier) tick() {
	vf.done++
	if vf.opts.Progress != nil && vf.done%4096 == 0 {
		vf.opts.Progress(vf.done, vf.total)
	}
}

// cleanup removes the temporary files.
func (vf *verifier) cleanup() {
	files := []*os.File{vf.leaves, vf.chainLeaves}
	for _, f := range vf.pending {
		files = append(files, f)
	}
	for _, f := range files {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
	if vf.records != nil {
		vf.records.Close()
	}
}
