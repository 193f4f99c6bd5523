// Package stream delivers audit entries, as they are committed, to the
// destinations their owners configure: an HTTPS webhook, Splunk HEC or a
// syslog collector. Delivery follows seq, never time: each destination keeps
// the last seq it delivered, reads the entries its owner may read after it
// (the API's privacy rule), sends them in order and in batches, and moves its
// position only once the receiver took them (at-least-once; receivers
// de-duplicate by entry id).
package stream

import (
	"context"
	"time"
)

// Destination types.
const (
	Webhook   = "webhook"
	SplunkHEC = "splunk_hec"
	Syslog    = "syslog"
)

// Scopes: the owner's own entries, or the admin trail of a project they own.
const (
	ScopeMe      = "me"
	ScopeProject = "project"
)

// Statuses: an active destination is delivered to; a paused one is not.
const (
	Active = "active"
	Paused = "paused"
)

// Destination is one configured stream as stored.
type Destination struct {
	ID        string // "str_" and 26 lowercase base32 characters
	OwnerID   string // the user who created it; only they see it
	Scope     string // ScopeMe or ScopeProject
	ProjectID string // the project of a ScopeProject stream; "" otherwise
	Type      string // Webhook, SplunkHEC or Syslog
	URL       string // where to deliver
	// Credential is the webhook signing secret or the Splunk HEC token,
	// sealed (Sealer.Seal); nil for syslog.
	Credential []byte
	Status     string // Active or Paused
	Position   int64  // the last seq delivered (every entry in scope up to it was sent); -1 before any
	LastError  string // why the last attempt failed; "" after a success
	Failures   int    // consecutive failed attempts
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// Version grows with every change (configuration or progress); writes
	// are conditional on it, so a replay or a pause is never overwritten by
	// a delivery that started before it.
	Version int64
}

// Progress is what a delivery attempt records.
type Progress struct {
	Position  int64
	Status    string
	LastError string
	Failures  int
	At        time.Time // becomes UpdatedAt
}

// Store keeps destinations; the storage engines implement it. Every method
// returns errors through auditlog.StoreError; a missing id is ENotFound.
type Store interface {
	// CreateStream stores d (its Version is stored as given, normally 1).
	CreateStream(ctx context.Context, d Destination) error
	// Stream returns one destination by id.
	Stream(ctx context.Context, id string) (Destination, error)
	// Streams returns the owner's destinations, oldest first.
	Streams(ctx context.Context, ownerID string) ([]Destination, error)
	// UpdateStream replaces the stored destination whose id and Version are
	// d's with d, its Version incremented; it returns the stored value, or an
	// EConflict error when the stored Version is not d.Version.
	UpdateStream(ctx context.Context, d Destination) (Destination, error)
	// DeleteStream removes a destination and its lease.
	DeleteStream(ctx context.Context, id string) error
	// SaveProgress records p on the destination if its Version is still
	// version (incrementing it); it reports false, and changes nothing, when
	// the destination changed or went away meanwhile.
	SaveProgress(ctx context.Context, id string, version int64, p Progress) (bool, error)
	// ClaimStreams leases to node, until until, every destination whose lease
	// is free, expired at now, or already node's, and returns them all
	// (paused ones included), oldest first. Several servers on one database
	// thereby deliver each destination from one server at a time.
	ClaimStreams(ctx context.Context, node string, now, until time.Time) ([]Destination, error)
}
