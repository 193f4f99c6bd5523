package bundle

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
)

// chainStart is what pass 1 learns for the chain: where it starts and the
// seqs it exported from there on (8 bytes each, spooled).
type chainStart struct {
	pruned int64 // the user's last pruned seq below the tree's size, or -1
	seq    int64 // S: the first exported chained entry above pruned; -1 until found
	actor  int64 // S's actor_seq
	seqs   *os.File
	w      *bufio.Writer

	// all is set when the filters keep every entry of the user: pass 1 then
	// exports the whole chain, checks it as it goes, and pass 2 is skipped.
	all                bool
	lastSeq, lastActor int64 // the last chain member pass 1 exported
	broken             error // where pass 1 saw the chain break
}

// newChainStart asks the source where retention last pruned the user's entries.
func newChainStart(ctx context.Context, src Source, opts *Options, tempDir string) (*chainStart, error) {
	cs := &chainStart{pruned: -1, seq: -1, all: opts.Filter.Key() == (&auditlog.Filter{}).Key()}
	var err error
	if cs.pruned, err = callBounded(ctx, opts.CallTimeout, func(ctx context.Context) (int64, error) {
		return src.LastPruned(ctx, opts.UserID, int64(opts.Checkpoint.Size))
	}); err != nil {
		return nil, err
	}
	if cs.seqs, err = os.CreateTemp(tempDir, "auditlog-export-seqs-*"); err != nil {
		return nil, auditlog.StoreError(err)
	}
	cs.w = bufio.NewWriterSize(cs.seqs, 1<<16)
	return cs, nil
}

// callBounded runs one store call, bounded by timeout when it is set.
func callBounded[T any](ctx context.Context, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	return fn(ctx)
}

// add notes one entry pass 1 exported.
func (cs *chainStart) add(e *auditlog.Entry) error {
	if cs.seq < 0 {
		if e.Chain == nil || e.Seq <= cs.pruned {
			return nil
		}
		cs.seq, cs.actor = e.Seq, e.Chain.ActorSeq
		cs.lastSeq, cs.lastActor = e.Seq, e.Chain.ActorSeq
		if cs.all {
			return nil
		}
	}
	if cs.all {
		c := e.Chain
		if cs.broken == nil && !c.Follows(cs.lastSeq, cs.lastActor) {
			cs.broken = errChanged("%s's chain breaks between seq %d and seq %d", e.ActorID, cs.lastSeq, e.Seq)
		}
		if c != nil {
			cs.lastSeq, cs.lastActor = e.Seq, c.ActorSeq
		}
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(e.Seq))
	_, err := cs.w.Write(b[:])
	return err
}

// close removes the spooled seqs.
func (cs *chainStart) close() {
	if cs.seqs != nil {
		cs.seqs.Close()
		os.Remove(cs.seqs.Name())
		cs.seqs = nil
	}
}

// errChanged is the answer when the log changed under the export.
func errChanged(format string, args ...any) error {
	return auditlog.Errorf(auditlog.EUnavailable, "the log changed during the export (%s); retry", fmt.Sprintf(format, args...))
}

// spoolChain is pass 2: it walks all the user's entries from the chain's
// start S, writes those the filters leave out to chain.jsonl with their
// proofs, and checks, merged with the seqs pass 1 exported, that they form an
// unbroken chain. It returns the manifest's chain statement (nil without a start).
func (x *Export) spoolChain(ctx context.Context, src Source, opts *Options, cs *chainStart) (*Chain, error) {
	if cs.seq < 0 {
		return nil, nil
	}
	if cs.all {
		// Every entry of the chain was exported and checked in pass 1.
		if cs.broken != nil {
			return nil, cs.broken
		}
		if err := cs.recheckPruned(ctx, src, opts); err != nil {
			return nil, err
		}
		empty := sha256.Sum256(nil)
		return &Chain{ActorID: opts.UserID, FromSeq: cs.seq, FromActorSeq: cs.actor, Count: cs.lastActor + 1,
			SHA256: hex.EncodeToString(empty[:])}, nil
	}
	if err := cs.w.Flush(); err != nil {
		return nil, auditlog.StoreError(err)
	}
	if _, err := cs.seqs.Seek(0, io.SeekStart); err != nil {
		return nil, auditlog.StoreError(err)
	}
	exported := bufio.NewReaderSize(cs.seqs, 1<<16)
	nextExported := func() (int64, bool) {
		var b [8]byte
		if _, err := io.ReadFull(exported, b[:]); err != nil {
			return -1, false
		}
		return int64(binary.BigEndian.Uint64(b[:])), true
	}
	pending, more := nextExported()
	sum := sha256.New()
	cw := bufio.NewWriterSize(io.MultiWriter(x.chain, sum), 1<<20)
	pw := bufio.NewWriterSize(x.chainProofs, 1<<20)
	check := newPathChecker(opts.Checkpoint.Head())
	c := &Chain{ActorID: opts.UserID, FromSeq: cs.seq, FromActorSeq: cs.actor}
	prevSeq, prevActor := int64(-1), int64(-1)
	var line []byte
	leftOut := func(e *auditlog.Entry) bool { return !opts.Filter.Matches(e) }
	for after := cs.seq - 1; ; {
		page, proofs, err := readPage(ctx, src, opts, auditlog.Filter{}, after, leftOut)
		if err != nil {
			return nil, err
		}
		for i := range page {
			e := &page[i]
			switch {
			case e.Chain == nil:
				return nil, errChanged("seq %d has no actor chain after chained seq %d", e.Seq, cs.seq)
			case prevSeq < 0 && (e.Seq != cs.seq || e.Chain.ActorSeq != cs.actor):
				return nil, errChanged("the chain's start seq %d is gone", cs.seq)
			case prevSeq >= 0 && !e.Chain.Follows(prevSeq, prevActor):
				return nil, errChanged("%s's chain breaks between seq %d and seq %d", opts.UserID, prevSeq, e.Seq)
			case more && pending < e.Seq:
				return nil, errChanged("exported seq %d is gone", pending)
			}
			prevSeq, prevActor = e.Seq, e.Chain.ActorSeq
			if !leftOut(e) {
				if !more || pending != e.Seq {
					return nil, errChanged("seq %d matches the filters but was not exported", e.Seq)
				}
				pending, more = nextExported()
				continue
			}
			if err := check.check(uint64(e.Seq), integrity.LeafHash(e.Canonical), proofs[i], rawHash); err != nil {
				return nil, fmt.Errorf("seq %d: %w", e.Seq, err)
			}
			cw.Write(e.Canonical)
			cw.WriteByte('\n')
			line = appendProofLine(line[:0], e.Seq, proofs[i])
			if _, err := pw.Write(line); err != nil {
				return nil, auditlog.StoreError(err)
			}
			c.Entries++
		}
		if len(page) < opts.PageSize {
			break
		}
		after = page[len(page)-1].Seq
	}
	if more {
		return nil, errChanged("exported seq %d is gone", pending)
	}
	if err := cs.recheckPruned(ctx, src, opts); err != nil {
		return nil, err
	}
	if err := errors.Join(cw.Flush(), pw.Flush()); err != nil {
		return nil, auditlog.StoreError(err)
	}
	c.Count, c.SHA256 = prevActor+1, hex.EncodeToString(sum.Sum(nil))
	return c, nil
}

// recheckPruned asks again where retention last pruned the user's entries:
// a prune of the chain's last entries during the export leaves no gap to see.
func (cs *chainStart) recheckPruned(ctx context.Context, src Source, opts *Options) error {
	pruned, err := callBounded(ctx, opts.CallTimeout, func(ctx context.Context) (int64, error) {
		return src.LastPruned(ctx, opts.UserID, int64(opts.Checkpoint.Size))
	})
	if err != nil {
		return err
	}
	if pruned != cs.pruned {
		return errChanged("seq %d was pruned", pruned)
	}
	return nil
}

// ceilMicro rounds a filter's time up to the microsecond, the precision of
// entries and of the manifest, so the manifest's since and until select
// exactly what the export did.
func ceilMicro(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := t.Truncate(time.Microsecond)
	if c.Before(*t) {
		c = c.Add(time.Microsecond)
	}
	return &c
}
