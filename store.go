package auditlog

import (
	"context"
	"time"
)

// Pending is a sanitized event ready to commit: id and occurred_at set,
// metadata redacted, ip anonymized; the store assigns its seq.
type Pending struct {
	Entry       Entry
	Fingerprint [32]byte
}

// CommitResult is the outcome of one batch of a group commit: the stored
// entries (existing ones for idempotent resends), or why the batch was refused.
type CommitResult struct {
	Entries []Entry
	Fresh   int // how many of Entries this commit stored (the rest were already stored)
	Err     error
}

// Appender stores groups of batches. Each batch is stored whole or not at all;
// the whole group commits in one transaction, with dense seqs in commit order.
type Appender interface {
	Commit(ctx context.Context, batches [][]Pending, receivedAt time.Time) ([]CommitResult, error)
	// ProbeWrite commits a write of its own of about size bytes (never an
	// entry), proving that a commit that large can succeed now: readiness
	// asks it when no commit ran lately, or to see a failed commit's size fit.
	ProbeWrite(ctx context.Context, size int) error
}

// Reader serves scoped reads. A user scope sees only the user's own entries;
// a project scope sees the project's entries only when the scope's user owns
// the project, and otherwise reports ENotFound.
type Reader interface {
	Query(ctx context.Context, scope Scope, q Query) (Page, error)
	Get(ctx context.Context, scope Scope, id string) (Entry, error)
	// Follow reads the log in commit order, the way to follow it as it grows
	// (late deliveries, with an old occurred_at, included): the entries in
	// scope matching f whose seq is greater than afterSeq, ascending, at most
	// limit (DefaultLimit when limit is outside 1..MaxLimit); and the seq the
	// read reached: every such entry up to it is among those returned, so the
	// caller resumes after it, even when nothing matched.
	Follow(ctx context.Context, scope Scope, f Filter, afterSeq int64, limit int) (entries []Entry, through int64, err error)
}

// Projects records who owns a project, the admin trail's access rule.
type Projects interface {
	SetProjectOwner(ctx context.Context, projectID, ownerID string) error
	ProjectOwner(ctx context.Context, projectID string) (string, error)
	// UserProjects lists the projects the user acted in or owns, sorted.
	UserProjects(ctx context.Context, userID string) ([]string, error)
}

// Secrets keeps server-side secrets, such as the cursor signing key, created once.
type Secrets interface {
	Secret(ctx context.Context, name string, size int) ([]byte, error)
}

// Store is everything a storage engine provides.
type Store interface {
	Appender
	Reader
	Projects
	TokenStore
	Secrets
	Ping(ctx context.Context) error
	Close() error
}
