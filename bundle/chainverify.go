package bundle

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
)

// recordSize is the size of a spooled record: seq, leaf hash, actor_seq, actor_prev.
const recordSize = 8 + sha256.Size + 8 + 8

// record is what verification keeps of one entry: its seq, leaf hash and
// chain (actorSeq -1 without one; actorPrev -1 when null).
type record struct {
	seq       int64
	leaf      [sha256.Size]byte
	actorSeq  int64
	actorPrev int64
}

// put encodes the record into b (recordSize bytes).
func (r *record) put(b []byte) {
	binary.BigEndian.PutUint64(b[0:], uint64(r.seq))
	copy(b[8:], r.leaf[:])
	binary.BigEndian.PutUint64(b[8+sha256.Size:], uint64(r.actorSeq))
	binary.BigEndian.PutUint64(b[16+sha256.Size:], uint64(r.actorPrev))
}

// get decodes the record from b (recordSize bytes).
func (r *record) get(b []byte) {
	r.seq = int64(binary.BigEndian.Uint64(b[0:]))
	copy(r.leaf[:], b[8:])
	r.actorSeq = int64(binary.BigEndian.Uint64(b[8+sha256.Size:]))
	r.actorPrev = int64(binary.BigEndian.Uint64(b[16+sha256.Size:]))
}

// chained reports whether the entry has an actor chain.
func (r *record) chained() bool { return r.actorSeq >= 0 }

// recordReader reads spooled records in order.
type recordReader struct {
	r   *bufio.Reader
	buf [recordSize]byte
}

// newRecordReader reads the n records of f from its start (f may be nil when n is 0).
func newRecordReader(f *os.File, n int64) *recordReader {
	var src io.Reader = strings.NewReader("")
	if f != nil {
		src = io.NewSectionReader(f, 0, n*recordSize)
	}
	return &recordReader{r: bufio.NewReaderSize(src, 1<<16)}
}

// next returns the next record, or false at the end.
func (rr *recordReader) next() (record, bool, error) {
	var r record
	if _, err := io.ReadFull(rr.r, rr.buf[:]); errors.Is(err, io.EOF) {
		return r, false, nil
	} else if err != nil {
		return r, false, fmt.Errorf("read records: %w", err)
	}
	r.get(rr.buf[:])
	return r, true, nil
}

// inspect decodes one line of entries.jsonl or chain.jsonl (at seq), checks
// that it is the user's, and returns its record and whether it matches the
// manifest's filters.
func (vf *verifier) inspect(body []byte, seq int64, lh hash.Hash) (record, bool, error) {
	rec := record{seq: seq, actorSeq: -1, actorPrev: -1}
	h, err := decodeHead(body)
	if err != nil {
		return rec, false, fmt.Errorf("not an entry: %w", err)
	}
	if h.Seq == nil || *h.Seq != seq {
		return rec, false, errors.New("the entry's seq is not readable")
	}
	if h.ActorID != vf.manifest.UserID {
		return rec, false, fmt.Errorf("the entry is %s's, not %s's", h.ActorID, vf.manifest.UserID)
	}
	at, err := time.Parse(time.RFC3339Nano, h.OccurredAt)
	if err != nil {
		return rec, false, fmt.Errorf("occurred_at: %w", err)
	}
	if h.ActorSeq != nil {
		rec.actorSeq = *h.ActorSeq
		if h.ActorPrev != nil {
			rec.actorPrev = *h.ActorPrev
		}
		if rec.actorSeq < 0 || (rec.actorSeq == 0) != (h.ActorPrev == nil) || rec.actorPrev >= seq {
			return rec, false, fmt.Errorf("malformed actor chain (actor_seq %d, actor_prev %s)", rec.actorSeq, seqText(h.ActorPrev))
		}
	}
	leafHash(lh, body, rec.leaf[:0])
	e := auditlog.Entry{Seq: seq, Action: h.Action, ResourceType: h.ResourceType, ResourceID: h.ResourceID,
		ActorID: h.ActorID, ProjectID: h.ProjectID, Outcome: h.Outcome, OccurredAt: at}
	return rec, vf.filter.Matches(&e), nil
}

// readChain hashes chain.jsonl and checks that every line is one of the
// user's chained entries after the chain's start, in seq order, that the
// filters leave out; it spools their records for chain-proofs.jsonl.
func (vf *verifier) readChain(r io.Reader) error {
	c := vf.manifest.Chain
	sum, err := vf.readRecords(r, FileChain, &vf.chainLeaves, &vf.chainLast, func(seq int64, rec record, matches bool) error {
		switch {
		case c == nil:
			return errors.New("it has lines, but the manifest states no chain")
		case seq <= c.FromSeq || uint64(seq) >= vf.cp.Size:
			return fmt.Errorf("seq %d is not after the chain's start (seq %d) and in the tree of size %d", seq, c.FromSeq, vf.cp.Size)
		case !rec.chained():
			return errors.New("the entry has no actor chain")
		case matches:
			return fmt.Errorf("seq %d matches the filters but is not in entries.jsonl", seq)
		}
		vf.chainCount++
		return nil
	})
	vf.chainSum = sum
	return err
}

// checkChain compares the manifest's chain with chain.jsonl, then merges the
// entries' and the chain's records by seq (keeping them when asked) and
// checks that from the chain's start they form the actor's unbroken chain up
// to its count.
func (vf *verifier) checkChain() (*ChainResult, error) {
	c := vf.manifest.Chain
	if c != nil {
		switch {
		case !vf.files[FileChain]:
			return nil, errors.New("manifest: it states a chain, but the archive has no chain.jsonl")
		case c.ActorID != vf.manifest.UserID:
			return nil, fmt.Errorf("manifest: chain.actor_id %s is not user_id %s", c.ActorID, vf.manifest.UserID)
		case c.Entries != vf.chainCount:
			return nil, fmt.Errorf("manifest: chain.entries %d, but chain.jsonl holds %d entries", c.Entries, vf.chainCount)
		case !strings.EqualFold(c.SHA256, hex.EncodeToString(vf.chainSum)):
			return nil, fmt.Errorf("manifest: chain.sha256 %s, but chain.jsonl hashes to %x", c.SHA256, vf.chainSum)
		}
	}
	var keep *bufio.Writer
	if vf.opts.KeepRecords {
		f, err := os.CreateTemp(vf.opts.TempDir, "auditlog-verify-records-*")
		if err != nil {
			return nil, err
		}
		vf.records = &Records{f: f, n: vf.count + vf.chainCount}
		keep = bufio.NewWriterSize(f, 1<<16)
	}
	w := chainWalk{c: c, user: vf.manifest.UserID}
	entries, chain := newRecordReader(vf.leaves, vf.count), newRecordReader(vf.chainLeaves, vf.chainCount)
	e, eok, err := entries.next()
	if err != nil {
		return nil, err
	}
	ch, chok, err := chain.next()
	if err != nil {
		return nil, err
	}
	var buf [recordSize]byte
	for eok || chok {
		var r record
		switch {
		case eok && chok && e.seq == ch.seq:
			return nil, &integrity.Mismatch{Seq: e.seq, Reason: "the entry is in both entries.jsonl and chain.jsonl"}
		case eok && (!chok || e.seq < ch.seq):
			r = e
			if e, eok, err = entries.next(); err != nil {
				return nil, err
			}
		default:
			r = ch
			if ch, chok, err = chain.next(); err != nil {
				return nil, err
			}
		}
		if keep != nil {
			r.put(buf[:])
			keep.Write(buf[:])
		}
		if err := w.step(r); err != nil {
			return nil, err
		}
	}
	if keep != nil {
		if err := keep.Flush(); err != nil {
			return nil, err
		}
	}
	if c == nil {
		return nil, nil
	}
	if err := w.end(); err != nil {
		return nil, err
	}
	return &ChainResult{ActorID: c.ActorID, FromSeq: c.FromSeq, Count: c.Count, TreeSize: vf.cp.Size, Entries: vf.chainCount}, nil
}

// chainWalk checks the merged records from the chain's start.
type chainWalk struct {
	c       *Chain
	user    string
	started bool
	prev    record
}

// step checks the next record in seq order.
func (w *chainWalk) step(r record) error {
	if w.c == nil || r.seq < w.c.FromSeq {
		return nil
	}
	if !w.started {
		w.started = true
		switch {
		case r.seq != w.c.FromSeq:
			return &integrity.Mismatch{Seq: w.c.FromSeq, Reason: fmt.Sprintf("the chain starts at seq %d, but entries.jsonl does not hold it", w.c.FromSeq)}
		case r.actorSeq != w.c.FromActorSeq:
			return &integrity.Mismatch{Seq: r.seq, Reason: fmt.Sprintf("the chain starts at actor_seq %d, but the entry's is %d", w.c.FromActorSeq, r.actorSeq)}
		}
		w.prev = r
		return nil
	}
	if r.actorSeq != w.prev.actorSeq+1 || r.actorPrev != w.prev.seq {
		return gap(w.user, w.prev, r)
	}
	w.prev = r
	return nil
}

// end checks that the chain reaches the manifest's count.
func (w *chainWalk) end() error {
	if !w.started {
		return &integrity.Mismatch{Seq: w.c.FromSeq, Reason: fmt.Sprintf("the chain starts at seq %d, but entries.jsonl does not hold it", w.c.FromSeq)}
	}
	last := w.prev.actorSeq
	switch {
	case last < w.c.Count-1:
		return &integrity.Mismatch{Seq: w.prev.seq, Reason: fmt.Sprintf("actor %s's chain is cut short: the manifest says the actor has %d chained entries but the bundle ends at actor_seq %d: %s missing",
			w.user, w.c.Count, last, entryRange(last+1, w.c.Count-1))}
	case last > w.c.Count-1:
		return &integrity.Mismatch{Seq: w.prev.seq, Reason: fmt.Sprintf("the manifest says actor %s has %d chained entries but the bundle holds actor_seq %d",
			w.user, w.c.Count, last)}
	}
	return nil
}

// gap describes a break between two consecutive records of the chain.
func gap(user string, prev, next record) error {
	m := &integrity.Mismatch{Seq: next.seq}
	if next.actorPrev > prev.seq && next.actorPrev < next.seq {
		m.Seq = next.actorPrev
	}
	says := fmt.Sprintf("seq %d says its previous entry is seq %d", next.seq, next.actorPrev)
	switch {
	case !next.chained():
		m.Reason = fmt.Sprintf("seq %d has no actor chain, but follows seq %d of actor %s's chain", next.seq, prev.seq, user)
	case next.actorSeq > prev.actorSeq+1:
		m.Reason = fmt.Sprintf("actor %s's chain has a gap: %s missing between seq %d and seq %d (%s)",
			user, entryRange(prev.actorSeq+1, next.actorSeq-1), prev.seq, next.seq, says)
	case next.actorSeq <= prev.actorSeq:
		m.Reason = fmt.Sprintf("actor %s's chain goes back: seq %d has actor_seq %d after seq %d's %d", user, next.seq, next.actorSeq, prev.seq, prev.actorSeq)
	default:
		m.Reason = fmt.Sprintf("actor %s's chain has a gap: %s, but the bundle's previous entry is seq %d", user, says, prev.seq)
	}
	return m
}

// entryRange names missing chain entries: "entry #7 (actor_seq 7) is" or "entries #7-#9 are".
func entryRange(from, to int64) string {
	if from == to {
		return fmt.Sprintf("entry #%d (actor_seq %d) is", from, from)
	}
	return fmt.Sprintf("entries #%d-#%d are", from, to)
}
