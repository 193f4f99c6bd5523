package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"golang.org/x/mod/sumdb/note"
)

// Limits on what a bundle may hold, so a hostile archive cannot exhaust memory.
const (
	maxSmallFile = 64 << 10 // checkpoint, key, manifest
	maxLine      = 16 << 20 // one line of entries.jsonl or proofs.jsonl
)

// VerifyOptions tune Verify; the zero value is usable.
type VerifyOptions struct {
	TempDir  string                  // where per-entry leaf hashes are spooled ("" for the system's)
	Progress func(done, total int64) // called every few thousand lines; total is 2 x the manifest's count
	// Witnesses are the witnesses' cosignature verifiers; at least
	// WitnessesRequired of them must have cosigned the bundle's checkpoint.
	Witnesses         []note.Verifier
	WitnessesRequired int
}

// Result is what a verified bundle holds.
type Result struct {
	Origin     string               // the log's origin, from the checkpoint
	Checkpoint integrity.Checkpoint // the signed tree head
	Manifest   Manifest             // the signed manifest
	Entries    int64                // entries verified
	Cosigned   []string             // names of the given witnesses that cosigned the checkpoint
}

// Verify checks a bundle offline with the verifier key: the checkpoint's and
// the manifest's signatures, every entry's leaf hash and inclusion proof
// against the checkpoint's root, the seq order, and the manifest's count,
// first and last seq, tree size and SHA-256 of entries.jsonl. A failure at
// one entry is an *integrity.Mismatch naming its seq.
func Verify(r io.Reader, v note.Verifier, opts VerifyOptions) (Result, error) {
	vf := &verifier{v: v, opts: opts, files: map[string]bool{}, first: -1, last: -1}
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

	count, first, last int64
	sum                []byte
	leaves             *os.File // (seq, leaf hash) per entry, 40 bytes each
	proofSpool         *os.File // proofs.jsonl, when it came before entries.jsonl
	done, total        int64
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
	if vf.proofSpool != nil {
		if _, err := vf.proofSpool.Seek(0, io.SeekStart); err != nil {
			return Result{}, err
		}
		if err := vf.checkProofs(vf.proofSpool); err != nil {
			return Result{}, err
		}
	}
	if err := vf.checkManifest(); err != nil {
		return Result{}, err
	}
	return Result{Origin: vf.origin, Checkpoint: vf.cp, Manifest: vf.manifest, Entries: vf.count, Cosigned: vf.cosigned}, nil
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
				}
			}
		}
	case FileKey:
		var b []byte
		b, err = small()
		vf.bundledKey = strings.TrimSpace(string(b))
	case FileEntries:
		err = vf.readEntries(r)
	case FileProofs:
		if !vf.files[FileEntries] || vf.checkpointMsg == nil || vf.manifestMsg == nil {
			return vf.spoolProofs(r)
		}
		err = vf.checkProofs(r)
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
		return errors.New("the checkpoint and the manifest must come before proofs.jsonl")
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

// readEntries hashes entries.jsonl, checks the seq order and spools each
// entry's seq and leaf hash for the proofs.
func (vf *verifier) readEntries(r io.Reader) error {
	var err error
	if vf.leaves, err = os.CreateTemp(vf.opts.TempDir, "auditlog-verify-leaves-*"); err != nil {
		return err
	}
	sum := sha256.New()
	lw := bufio.NewWriterSize(vf.leaves, 1<<16)
	lh := sha256.New()
	var rec [8 + sha256.Size]byte
	err = eachLine(r, sum, func(body []byte, n int64) error {
		seq, err := entrySeq(body)
		if err != nil {
			return &integrity.Mismatch{Seq: vf.last + 1, Reason: fmt.Sprintf("entries.jsonl line %d (after seq %d): %v", n, vf.last, err)}
		}
		if seq <= vf.last {
			return &integrity.Mismatch{Seq: seq, Reason: fmt.Sprintf("entries.jsonl line %d: seq %d after seq %d: entries are not in seq order", n, seq, vf.last)}
		}
		if vf.first < 0 {
			vf.first = seq
		}
		vf.last = seq
		binary.BigEndian.PutUint64(rec[:8], uint64(seq))
		leafHash(lh, body, rec[8:8])
		lw.Write(rec[:])
		vf.count++
		vf.tick()
		return nil
	})
	var m *integrity.Mismatch
	if errors.As(err, &m) {
		return err
	} else if err != nil {
		return fmt.Errorf("entries.jsonl: %w", err)
	}
	vf.sum = sum.Sum(nil)
	return lw.Flush()
}

// leafHash appends SHA-256(0x00 || body) to dst, reusing h.
func leafHash(h hash.Hash, body, dst []byte) []byte {
	h.Reset()
	h.Write([]byte{0})
	h.Write(body)
	return h.Sum(dst)
}

// spoolProofs keeps proofs.jsonl for after entries.jsonl.
func (vf *verifier) spoolProofs(r io.Reader) error {
	var err error
	if vf.proofSpool, err = os.CreateTemp(vf.opts.TempDir, "auditlog-verify-proofs-*"); err != nil {
		return err
	}
	_, err = io.Copy(vf.proofSpool, r)
	return err
}

// checkProofs verifies every proof line against the spooled leaf hashes.
func (vf *verifier) checkProofs(r io.Reader) error {
	if err := vf.open(); err != nil {
		return err
	}
	if _, err := vf.leaves.Seek(0, io.SeekStart); err != nil {
		return err
	}
	lr := bufio.NewReaderSize(vf.leaves, 1<<16)
	pc := newPathChecker(vf.cp.Head())
	var (
		rec    [8 + sha256.Size]byte
		hashes [2][][]byte // alternating: the checker compares a proof with the previous one
		lines  int64
	)
	err := eachLine(r, nil, func(body []byte, n int64) error {
		lines = n
		if n > vf.count {
			return fmt.Errorf("proofs.jsonl has more lines than entries.jsonl (%d)", vf.count)
		}
		if _, err := io.ReadFull(lr, rec[:]); err != nil {
			return fmt.Errorf("read leaf hashes: %w", err)
		}
		seq := int64(binary.BigEndian.Uint64(rec[:8]))
		pseq, hs, err := parseProofLine(body, hashes[n%2])
		if err != nil {
			return &integrity.Mismatch{Seq: seq, Reason: fmt.Sprintf("proofs.jsonl line %d: %v", n, err)}
		}
		hashes[n%2] = hs
		if pseq != seq {
			return &integrity.Mismatch{Seq: seq, Reason: fmt.Sprintf("proofs.jsonl line %d is for seq %d, entries.jsonl line %d is seq %d", n, pseq, n, seq)}
		}
		if err := pc.check(uint64(seq), rec[8:], hs, decodeHash); err != nil {
			return &integrity.Mismatch{Seq: seq, Reason: err.Error()}
		}
		vf.tick()
		return nil
	})
	if err != nil {
		var m *integrity.Mismatch
		if errors.As(err, &m) {
			return err
		}
		return fmt.Errorf("proofs.jsonl: %w", err)
	}
	if lines != vf.count {
		return fmt.Errorf("proofs.jsonl has %d lines, entries.jsonl %d", lines, vf.count)
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
	for _, f := range []*os.File{vf.leaves, vf.proofSpool} {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
}
