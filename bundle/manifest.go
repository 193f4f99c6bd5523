// Package bundle writes and verifies the signed export archive: a tar.gz
// holding entries.jsonl (one canonical entry per line, the exact stored
// bytes, in seq order), proofs.jsonl (one RFC 6962 inclusion proof per entry,
// same order, against the bundled checkpoint), checkpoint (the signed tree
// head), key (the verifier key) and manifest (a signed note whose body is
// JSON: filters, count, first and last seq, tree size, creation time, and
// the SHA-256 of entries.jsonl), then chain.jsonl and chain-proofs.jsonl
// (the user's entries the filters leave out, from the chain's start, and
// their proofs, in the same forms), which with the manifest's chain prove
// that no entry of the user matching the filters was left out.
//
// Writing is streamed with constant memory: entries are walked in keyset
// pages, proofs are built a page at a time, and both files are spooled to
// temporary files before the archive is assembled. Verification is offline,
// also in constant memory, and needs only the verifier key.
package bundle

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"golang.org/x/mod/sumdb/note"
)

// Names of the files in a bundle, in the order they are written.
const (
	FileCheckpoint  = "checkpoint"
	FileKey         = "key"
	FileManifest    = "manifest"
	FileEntries     = "entries.jsonl"
	FileProofs      = "proofs.jsonl"
	FileChain       = "chain.jsonl"        // the user's entries the filters leave out, from the chain's start
	FileChainProofs = "chain-proofs.jsonl" // their inclusion proofs, in the form of proofs.jsonl
)

// Manifest is the signed description of a bundle.
type Manifest struct {
	UserID    string  `json:"user_id"`         // whose entries these are (the caller of the export)
	Filters   Filters `json:"filters"`         // the filters the export applied
	Count     int64   `json:"count"`           // lines of entries.jsonl
	FirstSeq  *int64  `json:"first_seq"`       // seq of the first entry; null when there is none
	LastSeq   *int64  `json:"last_seq"`        // seq of the last entry; null when there is none
	TreeSize  uint64  `json:"tree_size"`       // size of the bundled checkpoint, which every proof is against
	CreatedAt string  `json:"created_at"`      // RFC 3339, UTC
	SHA256    string  `json:"sha256"`          // hex SHA-256 of entries.jsonl
	Chain     *Chain  `json:"chain,omitempty"` // the completeness statement; nil in bundles without one
}

// Chain is a manifest's completeness statement: from FromSeq to the end of
// the tree, the user's entries form an unbroken actor chain of Count entries,
// every one of them in entries.jsonl (the filters keep it) or chain.jsonl.
type Chain struct {
	ActorID      string `json:"actor_id"`       // whose chain it is (the manifest's user_id)
	FromSeq      int64  `json:"from_seq"`       // seq of the chain's first entry in the bundle, an entries.jsonl line
	FromActorSeq int64  `json:"from_actor_seq"` // that entry's actor_seq
	Count        int64  `json:"count"`          // chained entries the actor has in the tree: 1 + the last one's actor_seq
	Entries      int64  `json:"entries"`        // lines of chain.jsonl
	SHA256       string `json:"sha256"`         // hex SHA-256 of chain.jsonl
}

// Filters are an export's filters in the API's parameter names; empty ones are left out.
type Filters struct {
	ActionType   []string `json:"action_type,omitempty"`
	ResourceType []string `json:"resource_type,omitempty"`
	ResourceID   string   `json:"resource_id,omitempty"`
	ProjectID    string   `json:"project_id,omitempty"`
	ActorID      string   `json:"actor_id,omitempty"`
	Outcome      string   `json:"outcome,omitempty"`
	Since        string   `json:"since,omitempty"`
	Until        string   `json:"until,omitempty"`
}

// FiltersOf describes a filter in the API's parameter names (a `range` is
// shown as the since it resolved to).
func FiltersOf(f auditlog.Filter) Filters {
	out := Filters{
		ResourceType: f.ResourceTypes, ResourceID: f.ResourceID, ProjectID: f.ProjectID,
		ActorID: f.ActorID, Outcome: string(f.Outcome),
	}
	out.ActionType = append(out.ActionType, f.Actions...)
	for _, fam := range f.Families {
		out.ActionType = append(out.ActionType, fam+".*")
	}
	if f.Since != nil {
		out.Since = f.Since.UTC().Format(auditlog.TimeLayout)
	}
	if f.Until != nil {
		out.Until = f.Until.UTC().Format(auditlog.TimeLayout)
	}
	return out
}

// Filter rebuilds the auditlog.Filter the filters describe, to match
// entries offline (since and until are RFC 3339).
func (f Filters) Filter() (auditlog.Filter, error) {
	out := auditlog.Filter{ResourceTypes: f.ResourceType, ResourceID: f.ResourceID, ProjectID: f.ProjectID,
		ActorID: f.ActorID, Outcome: auditlog.Outcome(f.Outcome)}
	for _, p := range f.ActionType {
		if !out.AddActionPattern(p) {
			return auditlog.Filter{}, fmt.Errorf("bundle.Filters: action_type %q is not an action or family.*", p)
		}
	}
	for _, t := range []struct {
		name, text string
		dst        **time.Time
	}{{"since", f.Since, &out.Since}, {"until", f.Until, &out.Until}} {
		if t.text == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.text)
		if err != nil {
			return auditlog.Filter{}, fmt.Errorf("bundle.Filters: %s: %w", t.name, err)
		}
		*t.dst = &v
	}
	return out, nil
}

// Map returns the filters as a JSON object, for an audit entry's metadata.
func (f Filters) Map() map[string]any {
	raw, _ := json.Marshal(f) // a struct of strings always encodes
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return m
}

// Event is the audit entry that records the export: actor and resource are
// the exporting user; metadata holds the filters, the count, the tree size,
// the SHA-256 of entries.jsonl and, with a chain, its count (chain_count).
// ip and userAgent may be empty.
func (m Manifest) Event(ip, userAgent string) auditlog.Event {
	e := auditlog.Event{
		Action: "audit_log.export", ResourceType: "audit_log", ResourceID: m.UserID, ActorID: m.UserID,
		Outcome: auditlog.Success,
		Metadata: map[string]any{"filters": m.Filters.Map(), "count": m.Count, "tree_size": m.TreeSize,
			"entries_sha256": m.SHA256},
	}
	if m.Chain != nil {
		e.Metadata["chain_count"] = m.Chain.Count
	}
	if ip != "" {
		e.IP = &ip
	}
	if userAgent != "" {
		e.UserAgent = &userAgent
	}
	return e
}

// signManifest encodes the manifest as one line of JSON and signs it.
func signManifest(m Manifest, k *integrity.Key) ([]byte, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	msg, err := k.Sign(string(raw) + "\n")
	if err != nil {
		return nil, fmt.Errorf("sign manifest: %w", err)
	}
	return msg, nil
}

// OpenManifest verifies a signed manifest with the verifier key and decodes it.
func OpenManifest(msg []byte, v note.Verifier) (Manifest, error) {
	text, err := integrity.OpenNote(msg, v)
	if err != nil {
		return Manifest{}, fmt.Errorf("open manifest: %w", err)
	}
	var m Manifest
	if err := json.Unmarshal([]byte(text), &m); err != nil {
		return Manifest{}, fmt.Errorf("open manifest: the body is not the manifest JSON: %w", err)
	}
	if _, err := time.Parse(time.RFC3339Nano, m.CreatedAt); err != nil {
		return Manifest{}, errors.New("open manifest: created_at is not an RFC 3339 time")
	}
	return m, nil
}
