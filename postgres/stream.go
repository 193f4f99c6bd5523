package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/jackc/pgx/v5"
)

// ErrFenced is in the chain of the EConflict error Fence and CommitStream
// return when a newer leader holds the shard (its epoch is stored).
var ErrFenced = errors.New("fenced")

// ErrApplied is in the chain of the EConflict error CommitStream returns when
// the stream position it was asked to apply through is already applied: the
// group was committed before (e.g. the answer to an earlier attempt was lost).
var ErrApplied = errors.New("already applied")

// Fence takes the shard for a sequencer leader whose lease has the given
// epoch: it stores the epoch, so that no commit of an older leader can
// succeed from now on, and returns the last stream sequence applied, from
// which the leader resumes. When an equal or newer epoch is already stored it
// returns an EConflict error wrapping ErrFenced.
func (s *Store) Fence(ctx context.Context, epoch int64) (_ uint64, err error) {
	defer classify(&err)
	if epoch <= 0 {
		return 0, fmt.Errorf("postgres.Fence: epoch %d: epochs start at 1", epoch)
	}
	var applied int64
	err = s.pool.QueryRow(ctx, `UPDATE cluster_position SET epoch = $1 WHERE epoch < $1 RETURNING applied_seq`, epoch).Scan(&applied)
	if errors.Is(err, pgx.ErrNoRows) {
		var held int64
		if err := s.pool.QueryRow(ctx, `SELECT epoch FROM cluster_position`).Scan(&held); err != nil {
			return 0, fmt.Errorf("postgres.Fence: %w", err)
		}
		return 0, fenced(held)
	} else if err != nil {
		return 0, fmt.Errorf("postgres.Fence: %w", err)
	}
	return uint64(applied), nil
}

// fenced is the error for a leader whose epoch is no longer the stored one.
func fenced(held int64) error {
	return fmt.Errorf("%w: %w", auditlog.Errorf(auditlog.EConflict, "fenced: a newer leader holds epoch %d", held), ErrFenced)
}

// CommitStream is Commit for a cluster shard's sequencer: the same group
// commit, which in the same transaction locks the shard's stream position,
// refuses the commit when the stored epoch is not epoch (EConflict wrapping
// ErrFenced: a newer leader took the shard) or when through is not past the
// applied sequence (EConflict wrapping ErrApplied), and records through as
// applied. Entries and position therefore advance together or not at all.
func (s *Store) CommitStream(ctx context.Context, batches [][]auditlog.Pending, receivedAt time.Time, epoch int64, through uint64) (_ []auditlog.CommitResult, err error) {
	defer classify(&err)
	if through == 0 || through > math.MaxInt64 {
		return nil, fmt.Errorf("postgres.CommitStream: stream sequence %d is out of range", through)
	}
	guard := func(ctx context.Context, tx pgx.Tx) error {
		var held, applied int64
		if err := tx.QueryRow(ctx, `SELECT epoch, applied_seq FROM cluster_position FOR UPDATE`).Scan(&held, &applied); err != nil {
			return fmt.Errorf("lock cluster position: %w", err)
		}
		if held != epoch {
			return fenced(held)
		}
		if through <= uint64(applied) {
			return fmt.Errorf("%w: %w", auditlog.Errorf(auditlog.EConflict,
				"stream sequence %d is already applied (the shard is at %d)", through, applied), ErrApplied)
		}
		if _, err := tx.Exec(ctx, `UPDATE cluster_position SET applied_seq = $1`, int64(through)); err != nil {
			return fmt.Errorf("advance cluster position: %w", err)
		}
		return nil
	}
	results, err := s.commit(ctx, batches, receivedAt, guard)
	if err != nil {
		return nil, fmt.Errorf("postgres.CommitStream: %w", err)
	}
	return results, nil
}

// Position returns the stored fence epoch and the last applied stream sequence.
func (s *Store) Position(ctx context.Context) (epoch int64, applied uint64, err error) {
	defer classify(&err)
	var a int64
	if err := s.pool.QueryRow(ctx, `SELECT epoch, applied_seq FROM cluster_position`).Scan(&epoch, &a); err != nil {
		return 0, 0, fmt.Errorf("postgres.Position: %w", err)
	}
	return epoch, uint64(a), nil
}

// EntriesByID returns the stored entries with those ids, whoever their
// actor, in the order asked (for answering the writer that sent them), or
// ENotFound when one is missing. Each id's row in entry_ids names its
// entry's partition.
func (s *Store) EntriesByID(ctx context.Context, ids []string) (_ []auditlog.Entry, err error) {
	defer classify(&err)
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT i.id,
			(SELECT e.canonical FROM entries e WHERE e.occurred_us = i.occurred_us AND e.seq = i.seq)
		FROM entry_ids i WHERE i.id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("postgres.EntriesByID: %w", err)
	}
	defer rows.Close()
	byID := make(map[string][]byte, len(ids))
	for rows.Next() {
		var (
			id  string
			raw []byte
		)
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("postgres.EntriesByID: %w", err)
		}
		if raw == nil {
			return nil, fmt.Errorf("postgres.EntriesByID: entry %q is in entry_ids but not in entries", id)
		}
		byID[id] = raw
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres.EntriesByID: %w", err)
	}
	out := make([]auditlog.Entry, len(ids))
	for i, id := range ids {
		raw, ok := byID[id]
		if !ok {
			return nil, auditlog.Errorf(auditlog.ENotFound, "no audit log entry with id %q", id)
		}
		if out[i], err = auditlog.DecodeEntry(raw); err != nil {
			return nil, fmt.Errorf("postgres.EntriesByID: %w", err)
		}
	}
	return out, nil
}
