package auditlog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Outcome says whether an audited mutation completed.
type Outcome string

// The two outcomes of a mutation.
const (
	Success Outcome = "success" // the mutation completed without error
	Failed  Outcome = "failed"  // the mutation threw or returned an error
)

// Valid reports whether o is one of the two outcomes.
func (o Outcome) Valid() bool { return o == Success || o == Failed }

// TimeLayout is how occurred_at is written: RFC 3339 with the writer's offset
// and up to microsecond precision (trailing zeros dropped).
const TimeLayout = "2006-01-02T15:04:05.999999Z07:00"

// Entry is one audited mutation as stored: immutable, with a dense seq.
type Entry struct {
	ID           string         `json:"id"`
	Seq          int64          `json:"seq"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   string         `json:"resource_id"`
	ActorID      string         `json:"actor_id"`
	ProjectID    *string        `json:"project_id"`
	Outcome      Outcome        `json:"outcome"`
	OccurredAt   time.Time      `json:"occurred_at"`
	IP           *string        `json:"ip"`
	UserAgent    *string        `json:"user_agent"`
	Metadata     map[string]any `json:"metadata"`

	// Chain is the entry's place among its actor's entries; nil for entries
	// committed before the log kept actor chains (their bytes never change).
	Chain *ActorChain `json:"-"`

	// Canonical holds the exact bytes stored at commit; when set, MarshalJSON returns them.
	Canonical []byte `json:"-"`
}

// ActorChain is an entry's place in its actor's chain: every entry the log
// commits for an actor gets the next dense ActorSeq (0 for the actor's first)
// and, in ActorPrev, the seq of the actor's previous entry (null for the
// first). A gap in either is evidence that an entry was left out.
type ActorChain struct {
	ActorSeq  int64  `json:"actor_seq"`
	ActorPrev *int64 `json:"actor_prev"`
}

// canonicalEntry fixes the field order and the time format of canonical
// bytes. The embedded chain is written right after seq, and not at all when
// nil (entries from before chains keep their bytes).
type canonicalEntry struct {
	ID           string         `json:"id"`
	Seq          int64          `json:"seq"`
	*ActorChain                 // actor_seq, actor_prev
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   string         `json:"resource_id"`
	ActorID      string         `json:"actor_id"`
	ProjectID    *string        `json:"project_id"`
	Outcome      Outcome        `json:"outcome"`
	OccurredAt   string         `json:"occurred_at"`
	IP           *string        `json:"ip"`
	UserAgent    *string        `json:"user_agent"`
	Metadata     map[string]any `json:"metadata"`
}

// Encode returns the entry's canonical JSON: compact, fields in contract
// order, metadata keys sorted, occurred_at in TimeLayout, and encoding/json's
// default escaping (so re-marshalling the bytes never changes them).
// It is computed once at commit; everything afterwards reads the stored bytes.
func (e *Entry) Encode() ([]byte, error) {
	md := e.Metadata
	if md == nil {
		md = map[string]any{}
	}
	c := canonicalEntry{
		ID: e.ID, Seq: e.Seq, ActorChain: e.Chain, Action: e.Action, ResourceType: e.ResourceType,
		ResourceID: e.ResourceID, ActorID: e.ActorID, ProjectID: e.ProjectID,
		Outcome: e.Outcome, OccurredAt: e.OccurredAt.Format(TimeLayout),
		IP: e.IP, UserAgent: e.UserAgent, Metadata: md,
	}
	return encodeCanonical(&c, true)
}

// MarshalJSON returns the stored canonical bytes when present, so reads serve
// exactly what was committed.
func (e Entry) MarshalJSON() ([]byte, error) {
	if e.Canonical != nil {
		return e.Canonical, nil
	}
	return e.Encode()
}

// DecodeEntry parses canonical entry bytes back into an Entry that keeps them.
func DecodeEntry(raw []byte) (Entry, error) {
	var c canonicalEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return Entry{}, fmt.Errorf("decode entry: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, c.OccurredAt)
	if err != nil {
		return Entry{}, fmt.Errorf("decode entry: occurred_at: %w", err)
	}
	return Entry{
		ID: c.ID, Seq: c.Seq, Chain: c.ActorChain, Action: c.Action, ResourceType: c.ResourceType,
		ResourceID: c.ResourceID, ActorID: c.ActorID, ProjectID: c.ProjectID,
		Outcome: c.Outcome, OccurredAt: t, IP: c.IP, UserAgent: c.UserAgent,
		Metadata: c.Metadata, Canonical: raw,
	}, nil
}

// ActorHead is where an actor's chain ends in a log: how many chained entries
// the actor has, and the seq of the last one.
type ActorHead struct {
	Count int64 // chained entries so far; the next one's actor_seq
	Last  int64 // seq of the last one; meaningless while Count is 0
}

// Link returns the chain position of the actor's next entry, committed at
// seq, and moves the head past it.
func (h *ActorHead) Link(seq int64) *ActorChain {
	c := &ActorChain{ActorSeq: h.Count}
	if h.Count > 0 {
		prev := h.Last
		c.ActorPrev = &prev
	}
	h.Count, h.Last = h.Count+1, seq
	return c
}

// Follows reports whether c is the next place in a chain after the actor's
// entry at prevSeq, whose actor_seq is prevActorSeq: the following actor_seq,
// naming that entry as the previous one. A nil c follows nothing.
func (c *ActorChain) Follows(prevSeq, prevActorSeq int64) bool {
	return c != nil && c.ActorSeq == prevActorSeq+1 && c.ActorPrev != nil && *c.ActorPrev == prevSeq
}
