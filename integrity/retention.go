package integrity

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sequencer"
)

// Tombstone is what a prune keeps of an entry whose body it removed: enough
// to answer its actor's GET with "pruned", to keep its id reserved, and for
// the audit to require a prune record covering it.
type Tombstone struct {
	Seq         int64
	ID          string
	ActorID     string
	OccurredAt  time.Time
	Fingerprint []byte
}

// Prune is what one retention prune removed, as its audit_log.retention_prune
// record states it.
type Prune struct {
	Boundary   time.Time // entries that occurred before it were removed
	FirstSeq   int64     // the lowest seq removed
	LastSeq    int64     // the highest seq removed
	Count      int64     // how many entries were removed
	Oldest     time.Time // the earliest occurred_at removed
	Newest     time.Time // the latest occurred_at removed
	RecordSeq  int64     // the seq of the record itself (set when read back)
	RecordedAt time.Time // when the record was committed (its occurred_at)
}

// Covers reports whether the prune explains a missing body: a tombstone at
// a seq below the record's, inside the prune's seq range, of an entry that
// occurred before its boundary.
func (p Prune) Covers(t Tombstone) bool {
	return t.Seq < p.RecordSeq && p.FirstSeq <= t.Seq && t.Seq <= p.LastSeq && t.OccurredAt.Before(p.Boundary)
}

// Retention is implemented by stores that prune: the audit reads tombstones
// and prune records from it to accept bodies removed by a prune.
type Retention interface {
	// Tombstones returns up to limit tombstones with seq > after, by seq ascending.
	Tombstones(ctx context.Context, after int64, limit int) ([]Tombstone, error)
	// PruneRecords returns the canonical bytes of every retention_prune
	// record ever committed, kept even once the record itself is pruned,
	// by seq ascending.
	PruneRecords(ctx context.Context) ([]StoredEntry, error)
}

// NewPruneRecord builds the pending audit_log.retention_prune entry that
// records p, through the same sanitizing path as every write.
func NewPruneRecord(p Prune, now time.Time) (auditlog.Pending, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return auditlog.Pending{}, fmt.Errorf("prune record: %w", err)
	}
	md := map[string]any{
		"boundary":           p.Boundary.UTC().Format(auditlog.TimeLayout),
		"first_seq":          json.Number(strconv.FormatInt(p.FirstSeq, 10)),
		"last_seq":           json.Number(strconv.FormatInt(p.LastSeq, 10)),
		"count":              json.Number(strconv.FormatInt(p.Count, 10)),
		"oldest_occurred_at": p.Oldest.UTC().Format(auditlog.TimeLayout),
		"newest_occurred_at": p.Newest.UTC().Format(auditlog.TimeLayout),
	}
	ev := auditlog.Event{
		ID: id.String(), Action: auditlog.ActionRetentionPrune, ResourceType: "audit_log",
		ResourceID: "entries", ActorID: auditlog.RetentionActor, Outcome: auditlog.Success,
		OccurredAt: now.UTC().Truncate(time.Microsecond), Metadata: md,
	}
	clean, err := auditlog.SanitizeReserved(ev)
	if err != nil {
		return auditlog.Pending{}, fmt.Errorf("prune record: %w", err)
	}
	if !reflect.DeepEqual(clean.Metadata, md) {
		return auditlog.Pending{}, fmt.Errorf("prune record: redaction changed the record's metadata")
	}
	return auditlog.Pending{
		Fingerprint: clean.Fingerprint(),
		Entry: auditlog.Entry{
			ID: clean.ID, Action: clean.Action, ResourceType: clean.ResourceType, ResourceID: clean.ResourceID,
			ActorID: clean.ActorID, Outcome: clean.Outcome, OccurredAt: clean.OccurredAt, Metadata: clean.Metadata,
		},
	}, nil
}

// ParsePruneRecord reads a prune back from its record's entry.
func ParsePruneRecord(e auditlog.Entry) (Prune, error) {
	if e.Action != auditlog.ActionRetentionPrune || e.ActorID != auditlog.RetentionActor {
		return Prune{}, fmt.Errorf("prune record at seq %d: not a retention record", e.Seq)
	}
	p := Prune{RecordSeq: e.Seq, RecordedAt: e.OccurredAt}
	var err error
	for _, f := range []struct {
		key string
		t   *time.Time
		n   *int64
	}{
		{"boundary", &p.Boundary, nil}, {"oldest_occurred_at", &p.Oldest, nil}, {"newest_occurred_at", &p.Newest, nil},
		{"first_seq", nil, &p.FirstSeq}, {"last_seq", nil, &p.LastSeq}, {"count", nil, &p.Count},
	} {
		v, ok := e.Metadata[f.key]
		if !ok {
			return Prune{}, fmt.Errorf("prune record at seq %d: no %s", e.Seq, f.key)
		}
		if f.t != nil {
			s, _ := v.(string)
			if *f.t, err = time.Parse(time.RFC3339Nano, s); err != nil {
				return Prune{}, fmt.Errorf("prune record at seq %d: %s: %w", e.Seq, f.key, err)
			}
			continue
		}
		if *f.n, err = strconv.ParseInt(fmt.Sprint(v), 10, 64); err != nil {
			return Prune{}, fmt.Errorf("prune record at seq %d: %s: %w", e.Seq, f.key, err)
		}
	}
	return p, nil
}

// CommitPruneRecord records p inside an engine's open commit transaction,
// after the removal, through the ordinary commit planner (so it takes the
// next seq under the engine's log lock), and returns the record's entry.
func CommitPruneRecord(ctx context.Context, tx sequencer.Tx, p Prune, now time.Time) (auditlog.Entry, error) {
	rec, err := NewPruneRecord(p, now)
	if err != nil {
		return auditlog.Entry{}, err
	}
	results, err := sequencer.CommitGroup(ctx, tx, [][]auditlog.Pending{{rec}}, now)
	if err != nil {
		return auditlog.Entry{}, fmt.Errorf("prune record: %w", err)
	}
	if err := results[0].Err; err != nil {
		return auditlog.Entry{}, fmt.Errorf("prune record: %w", err)
	}
	return results[0].Entries[0], nil
}
