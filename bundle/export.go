package bundle

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
)

// Source is what an export reads: the user's entries in seq order, the
// tree's stored nodes, and where retention last removed one of the user's
// entries (the actor chain a bundle proves starts after it).
type Source interface {
	integrity.NodeReader
	ScanUser(ctx context.Context, userID string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error)
	// LastPruned returns the seq of the user's latest entry below seq before whose body
	// retention removed (its tombstone), or -1 when there is none.
	LastPruned(ctx context.Context, userID string, before int64) (int64, error)
}

// Options describe one export.
type Options struct {
	UserID     string               // whose entries (actor_id); required
	Filter     auditlog.Filter      // which of them
	Checkpoint integrity.Checkpoint // the signed tree head every proof is against; entries after it are left out
	Key        *integrity.Key       // signs the manifest; its verifier key is bundled
	Now        time.Time            // the manifest's created_at
	TempDir    string               // where entries and proofs are spooled ("" for the system's)
	PageSize   int                  // entries per page (default 1000)
	Progress   func(entries int64)  // called after each page, when set
	Level      int                  // gzip level of the small files and entries (default gzip.BestSpeed)
	// CallTimeout bounds the store calls of each page (its entries and their
	// proofs) rather than the whole export, which is long by nature; 0 leaves
	// them bounded by ctx alone.
	CallTimeout time.Duration
}

// Export is a prepared bundle: the entries and proofs spooled to temporary
// files and the signed manifest. Write it with WriteTo, then Close it.
type Export struct {
	Manifest     Manifest
	manifestNote []byte
	checkpoint   []byte
	key          string
	entries      *os.File
	proofs       *os.File
	chain        *os.File // chain.jsonl
	chainProofs  *os.File // chain-proofs.jsonl
	created      time.Time
	level        int
}

// Prepare walks the user's matching entries with seq below the checkpoint's
// size, writes them and their inclusion proofs to temporary files (checking
// every proof as it goes), then walks the user's other entries from the chain's start into chain.jsonl, and signs the
// manifest. Memory stays constant. A chain broken by a concurrent prune fails
// the export with EUnavailable: retrying makes a bundle that verifies.
func Prepare(ctx context.Context, src Source, opts Options) (_ *Export, err error) {
	if opts.UserID == "" || opts.Key == nil || opts.Checkpoint.Note == nil {
		return nil, errors.New("bundle.Prepare: UserID, Key and Checkpoint are required")
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Level == 0 {
		opts.Level = gzip.BestSpeed
	}
	x := &Export{checkpoint: opts.Checkpoint.Note, key: opts.Key.VerifierKey(), created: opts.Now.UTC(), level: opts.Level}
	defer func() {
		if err != nil {
			x.Close()
		}
	}()
	if x.entries, err = os.CreateTemp(opts.TempDir, "auditlog-export-entries-*"); err != nil {
		return nil, fmt.Errorf("bundle.Prepare: %w", auditlog.StoreError(err))
	}
	for _, f := range []struct {
		dst  **os.File
		name string
	}{{&x.proofs, "proofs"}, {&x.chain, "chain"}, {&x.chainProofs, "chain-proofs"}} {
		if *f.dst, err = os.CreateTemp(opts.TempDir, "auditlog-export-"+f.name+"-*"); err != nil {
			return nil, fmt.Errorf("bundle.Prepare: %w", auditlog.StoreError(err))
		}
	}
	opts.Filter.Since, opts.Filter.Until = ceilMicro(opts.Filter.Since), ceilMicro(opts.Filter.Until)
	m := Manifest{UserID: opts.UserID, Filters: FiltersOf(opts.Filter), TreeSize: opts.Checkpoint.Size,
		CreatedAt: x.created.Format(time.RFC3339Nano)}
	cs, err := newChainStart(ctx, src, &opts, opts.TempDir)
	if err != nil {
		return nil, fmt.Errorf("bundle.Prepare: %w", err)
	}
	defer cs.close()
	sum, err := x.spool(ctx, src, &opts, &m, cs)
	if err != nil {
		return nil, fmt.Errorf("bundle.Prepare: %w", err)
	}
	m.SHA256 = hex.EncodeToString(sum)
	if m.Chain, err = x.spoolChain(ctx, src, &opts, cs); err != nil {
		return nil, fmt.Errorf("bundle.Prepare: %w", err)
	}
	if x.manifestNote, err = signManifest(m, opts.Key); err != nil {
		return nil, fmt.Errorf("bundle.Prepare: %w", err)
	}
	x.Manifest = m
	return x, nil
}

// spool writes entries.jsonl and proofs.jsonl page by page and returns the
// SHA-256 of entries.jsonl. Failing to write the temporary files (a full
// disk) is storage trouble, EUnavailable, like the store's own.
func (x *Export) spool(ctx context.Context, src Source, opts *Options, m *Manifest, cs *chainStart) ([]byte, error) {
	sum := sha256.New()
	ew := bufio.NewWriterSize(io.MultiWriter(x.entries, sum), 1<<20)
	pw := bufio.NewWriterSize(x.proofs, 1<<20)
	check := newPathChecker(opts.Checkpoint.Head())
	var line []byte
	for after := int64(-1); ; {
		page, proofs, err := readPage(ctx, src, opts, opts.Filter, after, nil)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		for i, e := range page {
			if err := cs.add(&page[i]); err != nil {
				return nil, auditlog.StoreError(err)
			}
			// Never hand out a proof that does not verify (a damaged node table).
			if err := check.check(uint64(e.Seq), integrity.LeafHash(e.Canonical), proofs[i], rawHash); err != nil {
				return nil, fmt.Errorf("seq %d: %w", e.Seq, err)
			}
			ew.Write(e.Canonical)
			ew.WriteByte('\n')
			line = appendProofLine(line[:0], e.Seq, proofs[i])
			if _, err := pw.Write(line); err != nil {
				return nil, auditlog.StoreError(err)
			}
		}
		after = page[len(page)-1].Seq
		if m.FirstSeq == nil {
			m.FirstSeq = &page[0].Seq
		}
		m.LastSeq = &page[len(page)-1].Seq
		m.Count += int64(len(page))
		if opts.Progress != nil {
			opts.Progress(m.Count)
		}
		if len(page) < opts.PageSize {
			break
		}
	}
	if err := errors.Join(ew.Flush(), pw.Flush()); err != nil {
		return nil, auditlog.StoreError(err)
	}
	return sum.Sum(nil), nil
}

// readPage reads the page of the user's entries that match f after seq
// after, and the inclusion proofs of those prove selects (all when nil; nil
// in the place of the others), its store calls bounded together by
// opts.CallTimeout.
func readPage(ctx context.Context, src Source, opts *Options, f auditlog.Filter, after int64, prove func(*auditlog.Entry) bool) ([]auditlog.Entry, [][][]byte, error) {
	if opts.CallTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, opts.CallTimeout)
		defer cancel()
	}
	page, err := src.ScanUser(ctx, opts.UserID, f, after, int64(opts.Checkpoint.Size), opts.PageSize)
	if err != nil || len(page) == 0 {
		return nil, nil, err
	}
	seqs := make([]uint64, 0, len(page))
	for i := range page {
		if page[i].Seq <= after {
			return nil, nil, fmt.Errorf("the store returned seq %d after seq %d", page[i].Seq, after)
		}
		after = page[i].Seq
		if prove == nil || prove(&page[i]) {
			seqs = append(seqs, uint64(page[i].Seq))
		}
	}
	proofs := make([][][]byte, len(page))
	if len(seqs) > 0 {
		got, err := integrity.InclusionProofs(ctx, src, seqs, opts.Checkpoint.Size)
		if err != nil {
			return nil, nil, err
		}
		for i, j := 0, 0; i < len(page); i++ {
			if prove == nil || prove(&page[i]) {
				proofs[i], j = got[j], j+1
			}
		}
	}
	return page, proofs, nil
}

// WriteTo writes the bundle as a tar.gz: checkpoint, key, manifest and
// entries.jsonl in a gzip member compressed at the export's level, then
// proofs.jsonl in a stored (uncompressed) member, since proofs are random
// hashes that do not compress and would only slow verification down, then
// chain.jsonl compressed and chain-proofs.jsonl stored likewise. Any gzip
// reader reads the four members as one stream.
func (x *Export) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	if err := x.writeTo(cw); err != nil {
		return cw.n, fmt.Errorf("bundle.WriteTo: %w", err)
	}
	return cw.n, nil
}

// writeTo writes the archive's four gzip members.
func (x *Export) writeTo(w io.Writer) error {
	sw := &switchWriter{}
	tw := tar.NewWriter(sw)
	for i, m := range []struct {
		level int
		name  string
		file  *os.File
	}{
		{x.level, FileEntries, x.entries}, {gzip.NoCompression, FileProofs, x.proofs},
		{x.level, FileChain, x.chain}, {gzip.NoCompression, FileChainProofs, x.chainProofs},
	} {
		gz, err := gzip.NewWriterLevel(w, m.level)
		if err != nil {
			return err
		}
		sw.w = gz
		if i == 0 { // the small files lead the first member
			for _, f := range []struct {
				name string
				body []byte
			}{
				{FileCheckpoint, x.checkpoint}, {FileKey, []byte(x.key + "\n")}, {FileManifest, x.manifestNote},
			} {
				if err := x.header(tw, f.name, int64(len(f.body))); err != nil {
					return err
				}
				if _, err := tw.Write(f.body); err != nil {
					return err
				}
			}
		}
		if err := x.copyFile(tw, m.name, m.file); err != nil {
			return err
		}
		end := tw.Flush
		if m.name == FileChainProofs {
			end = tw.Close // the archive's end-of-archive blocks go into the last member
		}
		if err := errors.Join(end(), gz.Close()); err != nil {
			return err
		}
	}
	return nil
}

// header writes a regular file's tar header.
func (x *Export) header(tw *tar.Writer, name string, size int64) error {
	return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: x.created})
}

// copyFile writes a spooled file into the archive.
func (x *Export) copyFile(tw *tar.Writer, name string, f *os.File) error {
	size, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := x.header(tw, name, size); err != nil {
		return err
	}
	_, err = io.CopyN(tw, f, size)
	return err
}

// Close removes the temporary files.
func (x *Export) Close() error {
	var errs []error
	for _, f := range []*os.File{x.entries, x.proofs, x.chain, x.chainProofs} {
		if f != nil {
			errs = append(errs, f.Close(), os.Remove(f.Name()))
		}
	}
	x.entries, x.proofs, x.chain, x.chainProofs = nil, nil, nil, nil
	return errors.Join(errs...)
}

// switchWriter forwards to a writer that can be replaced between files.
type switchWriter struct{ w io.Writer }

// Write implements io.Writer.
func (s *switchWriter) Write(p []byte) (int, error) { return s.w.Write(p) }

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n int64
}

// Write implements io.Writer.
func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
