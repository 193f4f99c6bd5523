package bundle

import (
	"errors"
	"fmt"
	"os"

	"github.com/guaracloud/auditlog/integrity"
)

// Records are a verified bundle's entries (entries.jsonl and chain.jsonl
// merged) as fixed-size records in seq order, spooled to a temporary file:
// seq, leaf hash and actor chain. CrossCheck reads them; Close removes them.
type Records struct {
	f *os.File
	n int64
}

// Len returns how many records there are.
func (r *Records) Len() int64 { return r.n }

// Close removes the spooled records.
func (r *Records) Close() error {
	if r == nil || r.f == nil {
		return nil
	}
	err := errors.Join(r.f.Close(), os.Remove(r.f.Name()))
	r.f = nil
	if err != nil {
		return fmt.Errorf("bundle.Records.Close: %w", err)
	}
	return nil
}

// Other is another verified bundle of the same log, named for messages.
type Other struct {
	Name   string // how messages name it (its file name)
	Result Result // its verification, with Records
}

// CrossCheck holds the main bundle's completeness statement (its user has
// Count chained entries in the tree of size TreeSize, all of them there from
// FromSeq on) against other verified bundles of the same log: an entry of the
// user in another bundle below that size whose actor_seq is not below Count,
// or at or after FromSeq but missing from the main bundle, is evidence that
// entries were left out. Two bundles holding different entries at one seq
// show a fork. Every Result needs Records (VerifyOptions.KeepRecords); the
// check reads them in seq order, in constant memory.
func CrossCheck(main Result, others ...Other) error {
	if main.Records == nil {
		return errors.New("bundle.CrossCheck: the main bundle was verified without KeepRecords")
	}
	for _, o := range others {
		if err := crossCheck(main, o); err != nil {
			return fmt.Errorf("bundle.CrossCheck: %s: %w", o.Name, err)
		}
	}
	return nil
}

// crossCheck compares the main bundle with one other bundle.
func crossCheck(main Result, o Other) error {
	if o.Result.Records == nil {
		return errors.New("verified without KeepRecords")
	}
	if o.Result.Origin != main.Origin {
		return fmt.Errorf("a bundle of another log (%s, not %s)", o.Result.Origin, main.Origin)
	}
	user, c := main.Manifest.UserID, main.Chain
	sameUser := o.Result.Manifest.UserID == user
	mr := newRecordReader(main.Records.f, main.Records.n)
	or := newRecordReader(o.Result.Records.f, o.Result.Records.n)
	m, mok, err := mr.next()
	if err != nil {
		return err
	}
	for {
		r, ok, err := or.next()
		if err != nil || !ok {
			return err
		}
		for mok && m.seq < r.seq {
			if m, mok, err = mr.next(); err != nil {
				return err
			}
		}
		held := mok && m.seq == r.seq
		if held && m.leaf != r.leaf {
			return &integrity.Mismatch{Seq: r.seq, Reason: fmt.Sprintf("this bundle and %s hold different entries at seq %d (their leaf hashes differ): the log forked", o.Name, r.seq)}
		}
		if c == nil || !sameUser || uint64(r.seq) >= c.TreeSize {
			continue
		}
		if r.chained() && r.actorSeq >= c.Count {
			return &integrity.Mismatch{Seq: r.seq, Reason: fmt.Sprintf("seq %d (signed in %s) is %s's entry #%d, but this bundle's manifest says %s has %d chained entries in the tree of size %d: entries were left out",
				r.seq, o.Name, user, r.actorSeq, user, c.Count, c.TreeSize)}
		}
		if r.seq >= c.FromSeq && !held {
			return &integrity.Mismatch{Seq: r.seq, Reason: fmt.Sprintf("seq %d (signed in %s) is %s's entry%s, but this bundle, which says it holds all of %s's entries from seq %d to the end of the tree of size %d, does not: it was left out",
				r.seq, o.Name, user, entryNumber(r), user, c.FromSeq, c.TreeSize)}
		}
	}
}

// entryNumber renders " #k" for a chained record, "" otherwise.
func entryNumber(r record) string {
	if !r.chained() {
		return ""
	}
	return fmt.Sprintf(" #%d", r.actorSeq)
}
