// Package spool is a durable, bounded, on-disk FIFO of audit events: what a
// platform's remote audit sink writes before it releases a response, and
// what its delivery loop drains.
//
// Events go to append-only segment files ("<base seq in hex>.seg") in one
// directory. Each record is length-prefixed and CRC-32C checksummed. Append
// returns only after fsync; concurrent appenders share one fsync (group
// commit). A single consumer reads with Peek and acknowledges with Ack; the
// acknowledged position is persisted (file "ack", fsynced) so delivered
// records are not read again after a restart, and fully acknowledged segments
// are deleted. Open recovers: a record cut short or damaged by a crash
// mid-write is dropped with everything after it in its segment; every record
// whose Append returned nil is there.
//
// The spool is bounded (Options.MaxRecords, MaxBytes). Reserve holds the
// place of a record before the work it describes is done, so a caller can
// refuse that work up front rather than find the spool full afterwards; the
// place counts against the bounds until Append uses it or Release gives it back.
//
// The spool stores what it is given: callers hand it redacted events.
package spool

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// Errors a Spool returns.
var (
	ErrFull   = errors.New("spool: full")
	ErrClosed = errors.New("spool: closed")
	ErrLocked = errors.New("spool: the directory is in use by another process")
)

// Defaults for Options left zero.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 4 << 20
)

// Options bound and tune a Spool; the zero value is usable.
type Options struct {
	MaxBytes     int64        // bytes of unacknowledged records (default DefaultMaxBytes; negative: unbounded)
	MaxRecords   int64        // unacknowledged records (0: unbounded)
	SegmentBytes int64        // a segment is sealed once it holds this much (default DefaultSegmentBytes)
	Logger       *slog.Logger // recovery notes (never record contents); nil discards
}

// segment is one segment file; count and size only grow, and only for the last (active) segment.
type segment struct {
	base  uint64 // seq of its first record
	path  string
	count uint64 // records in it
	size  int64  // bytes of whole records in it
}

// position is where the consumer stands: the seq of the first unacknowledged
// record, and the segment and offset where that record starts (or will).
type position struct {
	seq  uint64
	base uint64
	off  int64
}

// Spool is an open spool directory; safe for concurrent appenders and one consumer.
type Spool struct {
	dir  string
	opts Options
	log  *slog.Logger
	lock *os.File

	mu      sync.Mutex
	cond    *sync.Cond // signalled when a group commit ends
	segs    []*segment // oldest first; the last is active
	active  *os.File   // the last segment, open for appending
	next    uint64     // seq of the next record
	synced  uint64     // every record below this seq is durable
	syncing bool       // a group commit's fsync is running
	err     error      // a write or fsync failed: the spool takes no more appends
	closed  bool
	depth   int64    // unacknowledged records
	bytes   int64    // their size on disk
	pos     position // the consumer's position (written under mu and rmu)

	reserved      int64 // places held by reservations (Reserve) for appends to come
	reservedBytes int64 // the room they hold

	rmu     sync.Mutex // serializes the consumer: Peek, Ack, Oldest
	ackFile *os.File
	peeked  []peekMark

	appends atomic.Int64
	syncs   atomic.Int64
	notify  chan struct{}
}

// peekMark remembers where a peeked record ends, so Ack can move past it.
type peekMark struct {
	seq  uint64
	base uint64
	end  int64
	size int64
}

// Open opens (creating if needed) the spool in dir, recovers it after a crash
// and takes an exclusive lock on it until Close.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger, notify: make(chan struct{}, 1)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.cond = sync.NewCond(&s.mu)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool.Open: %w", err)
	}
	_ = syncDir(filepath.Dir(dir)) // best effort: a new spool directory survives a power loss
	lock, err := lockDir(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("spool.Open: %w", err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, fmt.Errorf("spool.Open: %w", err)
	}
	return s, nil
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close makes every written record durable, then closes the files and releases the lock; later calls fail with ErrClosed.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	for s.syncing {
		s.cond.Wait()
	}
	var err error
	if s.err == nil && s.synced < s.next {
		if err = s.active.Sync(); err == nil {
			s.synced = s.next
		} else {
			err = fmt.Errorf("spool.Close: %w", err)
			s.err = err
		}
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	return errors.Join(err, s.closeFiles())
}

// closeFiles closes whatever is open.
func (s *Spool) closeFiles() error {
	var errs []error
	for _, f := range []*os.File{s.active, s.ackFile, s.lock} {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	return errors.Join(errs...)
}

// Depth returns the number and on-disk size of the records not yet acknowledged.
func (s *Spool) Depth() (records, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.depth, s.bytes
}

// Stats counts appends and the fsyncs their group commits took since Open.
type Stats struct {
	Appends  int64 // records appended
	Syncs    int64 // fsyncs of group commits (fewer than Appends under concurrency)
	Segments int   // segment files on disk
	Reserved int64 // places held by reservations neither used nor released yet
}

// Stats returns the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	n, reserved := len(s.segs), s.reserved
	s.mu.Unlock()
	return Stats{Appends: s.appends.Load(), Syncs: s.syncs.Load(), Segments: n, Reserved: reserved}
}

// Notify returns a channel that receives a value after new records become durable; the consumer waits on it when Peek finds nothing.
func (s *Spool) Notify() <-chan struct{} { return s.notify }

// syncDir makes a directory's entries (created, renamed, removed files) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// segmentName is the file name of the segment whose first record has seq base.
func segmentName(base uint64) string { return fmt.Sprintf("%016x.seg", base) }
