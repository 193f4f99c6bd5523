package sequencer

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
)

// Tx is a storage engine's open commit transaction, as the commit planner
// drives it: the engine locks, looks up and writes rows; every decision
// (idempotency, conflicts, seqs, canonical bytes, leaves) is the planner's.
type Tx interface {
	// Next takes the log's write lock for the rest of the transaction and
	// returns the seq of the next entry.
	Next(ctx context.Context) (int64, error)
	// Stored returns what the log holds under any of ids, in one lookup.
	Stored(ctx context.Context, ids []string) (map[string]Stored, error)
	// Heads returns where the chains of the given actors end; an actor
	// without a chain yet is absent.
	Heads(ctx context.Context, actors []string) (map[string]auditlog.ActorHead, error)
	// Write stores rows, whose seqs run on from Next's, extends the Merkle
	// tree over their canonical bytes, in seq order, and stores the new
	// heads of the actors the rows extend.
	Write(ctx context.Context, rows []Row, heads map[string]auditlog.ActorHead) error
}

// Stored is what the log holds under an id: the fingerprint of the event
// as sent, and the canonical bytes of its entry.
type Stored struct {
	Fingerprint []byte
	Canonical   []byte
	Pruned      bool // the entry's body was removed by retention: its id stays taken
}

// Row is one new entry of a commit, with its seq and canonical bytes set.
type Row struct {
	Entry       auditlog.Entry
	Fingerprint []byte
	ReceivedAt  time.Time
}

// known is an id the commit has seen: stored before, or new in this group.
type known struct {
	fingerprint []byte
	canonical   []byte          // its canonical bytes, when stored before
	pruned      bool            // stored before, then pruned by retention
	entry       *auditlog.Entry // decoded on demand, or new in this group
}

// CommitGroup plans and writes one group commit inside tx: a batch that
// reuses a stored id with other content (or one id for two contents) is
// refused whole with EConflict while the others commit; ids already stored
// with the same content return the stored entry; new events get dense seqs
// from Next in batch order, the next place in their actor's chain, and are
// encoded once into their canonical bytes. The ids and actors of the whole
// group are looked up at once. An error means the transaction must be
// rolled back and nothing acknowledged.
func CommitGroup(ctx context.Context, tx Tx, batches [][]auditlog.Pending, receivedAt time.Time) ([]auditlog.CommitResult, error) {
	next, err := tx.Next(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit group: %w", err)
	}
	seen, err := lookup(ctx, tx, batches)
	if err != nil {
		return nil, fmt.Errorf("commit group: %w", err)
	}
	heads, err := lookupHeads(ctx, tx, batches)
	if err != nil {
		return nil, fmt.Errorf("commit group: %w", err)
	}
	results := make([]auditlog.CommitResult, len(batches))
	var rows []Row
	for bi, batch := range batches {
		entries, fresh, err := planBatch(batch, seen, heads, next+int64(len(rows)), receivedAt)
		if auditlog.ErrorCode(err) == auditlog.EConflict {
			results[bi].Err = err
			continue
		} else if err != nil {
			return nil, fmt.Errorf("commit group: %w", err)
		}
		for i := range fresh {
			seen[fresh[i].Entry.ID] = &known{fingerprint: fresh[i].Fingerprint, entry: &fresh[i].Entry}
		}
		rows = append(rows, fresh...)
		results[bi].Entries, results[bi].Fresh = entries, len(fresh)
	}
	if len(rows) == 0 {
		return results, nil
	}
	moved := make(map[string]auditlog.ActorHead)
	for i := range rows {
		a := rows[i].Entry.ActorID
		moved[a] = *heads[a]
	}
	if err := tx.Write(ctx, rows, moved); err != nil {
		return nil, fmt.Errorf("commit group: %w", err)
	}
	return results, nil
}

// lookupHeads asks the engine where the chains of the group's actors end,
// once; an actor without a chain starts one at actor_seq 0.
func lookupHeads(ctx context.Context, tx Tx, batches [][]auditlog.Pending) (map[string]*auditlog.ActorHead, error) {
	heads := map[string]*auditlog.ActorHead{}
	var actors []string
	for _, b := range batches {
		for i := range b {
			if a := b[i].Entry.ActorID; heads[a] == nil {
				heads[a] = &auditlog.ActorHead{}
				actors = append(actors, a)
			}
		}
	}
	stored, err := tx.Heads(ctx, actors)
	if err != nil {
		return nil, fmt.Errorf("look up actor heads: %w", err)
	}
	for a, h := range stored {
		if heads[a] == nil {
			return nil, fmt.Errorf("look up actor heads: the engine answered for %q, which was not asked", a)
		}
		*heads[a] = h
	}
	return heads, nil
}

// lookup asks the engine about every id of the group once.
func lookup(ctx context.Context, tx Tx, batches [][]auditlog.Pending) (map[string]*known, error) {
	n := 0
	for _, b := range batches {
		n += len(b)
	}
	ids := make([]string, 0, n)
	for _, b := range batches {
		for i := range b {
			ids = append(ids, b[i].Entry.ID)
		}
	}
	stored, err := tx.Stored(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("look up ids: %w", err)
	}
	seen := make(map[string]*known, len(stored))
	for id, st := range stored {
		seen[id] = &known{fingerprint: st.Fingerprint, canonical: st.Canonical, pruned: st.Pruned}
	}
	return seen, nil
}

// planBatch checks every id of the batch first, so that a conflicting batch
// writes nothing, then gives the new events seqs from next, their places in
// their actors' chains (moving heads) and their canonical bytes. It returns
// the batch's entries in order and the new rows.
func planBatch(batch []auditlog.Pending, seen map[string]*known, heads map[string]*auditlog.ActorHead, next int64, receivedAt time.Time) ([]auditlog.Entry, []Row, error) {
	entries := make([]auditlog.Entry, len(batch))
	done := make([]bool, len(batch))
	for i := range batch {
		k, ok := seen[batch[i].Entry.ID]
		if !ok {
			continue
		}
		if k.pruned {
			return nil, nil, auditlog.PrunedConflictError(batch[i].Entry.ID)
		}
		if !bytes.Equal(k.fingerprint, batch[i].Fingerprint[:]) {
			return nil, nil, auditlog.ConflictError(batch[i].Entry.ID)
		}
		if k.entry == nil {
			e, err := auditlog.DecodeEntry(k.canonical)
			if err != nil {
				return nil, nil, fmt.Errorf("read stored entry %q: %w", batch[i].Entry.ID, err)
			}
			k.entry = &e
		}
		entries[i], done[i] = *k.entry, true
	}
	var fresh []Row
	inBatch := map[string]int{}
	for i := range batch {
		if done[i] {
			continue
		}
		if j, dup := inBatch[batch[i].Entry.ID]; dup { // the sequencer collapses these; stay safe
			if batch[j].Fingerprint != batch[i].Fingerprint {
				return nil, nil, auditlog.ConflictError(batch[i].Entry.ID)
			}
			entries[i] = entries[j]
			continue
		}
		inBatch[batch[i].Entry.ID] = i
		e := batch[i].Entry
		e.Seq = next + int64(len(fresh))
		e.Chain = heads[e.ActorID].Link(e.Seq)
		raw, err := e.Encode()
		if err != nil {
			return nil, nil, err
		}
		e.Canonical = raw
		entries[i] = e
		fresh = append(fresh, Row{Entry: e, Fingerprint: batch[i].Fingerprint[:], ReceivedAt: receivedAt})
	}
	return entries, fresh, nil
}
