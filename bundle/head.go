package bundle

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
)

// entryHead is what verification decodes of an entry: the fields filters
// read and the chain (metadata is skipped).
type entryHead struct {
	Seq          *int64           `json:"seq"`
	ActorSeq     *int64           `json:"actor_seq"`
	ActorPrev    *int64           `json:"actor_prev"`
	Action       string           `json:"action"`
	ResourceType string           `json:"resource_type"`
	ResourceID   string           `json:"resource_id"`
	ActorID      string           `json:"actor_id"`
	ProjectID    *string          `json:"project_id"`
	Outcome      auditlog.Outcome `json:"outcome"`
	OccurredAt   string           `json:"occurred_at"`
}

// headKeys are the keys entryHead reads: when a key that encoding/json would
// take for one of them (it matches names case-insensitively, with Unicode
// folding, after unescaping) appears after the fields the fast path reads,
// the line is decoded whole, so a key given twice is read the way
// encoding/json reads it (the last wins).
var headKeys = [][]byte{[]byte("seq"), []byte("actor_seq"), []byte("actor_prev"), []byte("action"),
	[]byte("resource_type"), []byte("resource_id"), []byte("actor_id"), []byte("project_id"),
	[]byte("outcome"), []byte("occurred_at")}

// repeatsHeadKey reports whether b (the rest of a line) may hold a key that
// encoding/json would read as one of headKeys: any quoted text before a
// colon that folds to one, or that holds an escape.
func repeatsHeadKey(b []byte) bool {
	for i := 0; ; {
		j := bytes.Index(b[i:], []byte(`":`))
		if j < 0 {
			return false
		}
		end := i + j
		if start := bytes.LastIndexByte(b[:end], '"'); start >= 0 {
			key := b[start+1 : end]
			if bytes.IndexByte(key, '\\') >= 0 {
				return true
			}
			for _, k := range headKeys {
				if len(key) >= len(k) && len(key) <= 3*len(k) && bytes.EqualFold(key, k) {
					return true
				}
			}
		}
		i = end + 2
	}
}

// decodeHead reads an entry's head. Lines in canonical form (the fields in
// the order the log writes them, strings without escapes) are read without
// a JSON decoder, which would otherwise scan every entry's metadata; any
// other line is decoded with encoding/json, with the same result.
func decodeHead(line []byte) (entryHead, error) {
	if h, ok := fastHead(line); ok {
		return h, nil
	}
	var h entryHead
	err := json.Unmarshal(line, &h)
	return h, err
}

// fastHead reads a canonical line's head, or reports false.
func fastHead(b []byte) (h entryHead, ok bool) {
	if _, b, ok = cutString(b, `{"id":`); !ok {
		return h, false
	}
	seq, b, ok := cutInt(b, `,"seq":`)
	if !ok {
		return h, false
	}
	h.Seq = &seq
	if n, rest, ok := cutInt(b, `,"actor_seq":`); ok {
		h.ActorSeq, b = &n, rest
		if rest, ok := bytes.CutPrefix(b, []byte(`,"actor_prev":null`)); ok {
			b = rest
		} else if p, rest, ok := cutInt(b, `,"actor_prev":`); ok {
			h.ActorPrev, b = &p, rest
		} else {
			return h, false
		}
	}
	var outcome string
	for _, f := range []struct {
		key string
		dst *string
	}{{`,"action":`, &h.Action}, {`,"resource_type":`, &h.ResourceType}, {`,"resource_id":`, &h.ResourceID}, {`,"actor_id":`, &h.ActorID}} {
		if *f.dst, b, ok = cutString(b, f.key); !ok {
			return h, false
		}
	}
	if rest, ok := bytes.CutPrefix(b, []byte(`,"project_id":null`)); ok {
		b = rest
	} else {
		var p string
		if p, b, ok = cutString(b, `,"project_id":`); !ok {
			return h, false
		}
		h.ProjectID = &p
	}
	if outcome, b, ok = cutString(b, `,"outcome":`); !ok {
		return h, false
	}
	h.Outcome = auditlog.Outcome(outcome)
	if h.OccurredAt, b, ok = cutString(b, `,"occurred_at":`); !ok || !bytes.HasPrefix(b, []byte(`,"ip":`)) {
		return h, false
	}
	if repeatsHeadKey(b) {
		return h, false
	}
	return h, true
}

// cutString cuts prefix and then a JSON string without escapes from b,
// returning the string's text.
func cutString(b []byte, prefix string) (string, []byte, bool) {
	b, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok || len(b) == 0 || b[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 {
		return "", nil, false
	}
	s := b[1 : 1+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return "", nil, false
		}
	}
	if !utf8.Valid(s) { // encoding/json would read U+FFFD
		return "", nil, false
	}
	return string(s), b[2+end:], true
}
