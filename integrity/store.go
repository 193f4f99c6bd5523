package integrity

import (
	"context"
	"encoding/hex"
	"fmt"

	"github.com/guaracloud/auditlog"
)

// Log is what the API and the checkpointer read from a store: the committed
// tree head, the stored tiles and the nodes computed from them (TileNodes),
// and the checkpoint history.
type Log interface {
	NodeReader
	TileReader
	// TreeHead returns the size and root of the committed tree.
	TreeHead(ctx context.Context) (Head, error)
	// AddCheckpoint stores c unless a checkpoint of the same or a larger size
	// is already stored, atomically; it reports whether it stored c.
	AddCheckpoint(ctx context.Context, c Checkpoint) (bool, error)
	// LatestCheckpoint returns the checkpoint of the largest size, or an ENotFound error.
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
	// CheckpointAt returns the checkpoint of exactly that size, or an ENotFound error.
	CheckpointAt(ctx context.Context, size uint64) (Checkpoint, error)
	// Checkpoints returns up to limit checkpoints of size >= from, smallest first.
	Checkpoints(ctx context.Context, from uint64, limit int) ([]Checkpoint, error)
}

// Scanner walks stored entries in seq order, for exports and audits.
type Scanner interface {
	// ScanUser returns up to limit of the user's own entries (actor_id =
	// userID) that match f and have after < seq < before, by seq ascending.
	ScanUser(ctx context.Context, userID string, f auditlog.Filter, after, before int64, limit int) ([]auditlog.Entry, error)
	// ScanLog returns up to limit stored rows with seq > after, by seq
	// ascending, with the columns kept beside their canonical bytes.
	ScanLog(ctx context.Context, after int64, limit int) ([]StoredEntry, error)
	// TreeState returns the stored compact range of the committed tree.
	TreeState(ctx context.Context) (TreeState, error)
}

// Store is everything a storage engine provides for tamper evidence. Its
// Commit must also extend the tree (TreeState.ExtendTiles) in the
// transaction that stores the entries, and write every tile it returns.
type Store interface {
	Log
	Scanner
}

// StoredEntry is one stored row as it is, for the audit: the seq column, the
// canonical bytes, and the columns reads filter on, which must say what the
// canonical bytes say.
type StoredEntry struct {
	Seq       int64
	Canonical []byte
	// Columns holds the id, actor_id, action, resource_type, resource_id,
	// project_id, outcome and occurred_at (the instant) columns of the row.
	Columns auditlog.Entry
}

// Origin returns the log's origin line, OriginPrefix and a random id made
// once and kept in the database's secrets.
func Origin(ctx context.Context, s auditlog.Secrets) (string, error) {
	id, err := s.Secret(ctx, "log-origin", 8)
	if err != nil {
		return "", fmt.Errorf("log origin: %w", err)
	}
	return OriginPrefix + hex.EncodeToString(id), nil
}
