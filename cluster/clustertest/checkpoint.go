package clustertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a shard's signed checkpoint as served.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
	Note   string // the whole signed note
}

// ParseCheckpoint reads a C2SP checkpoint note: the origin line, the size
// line, the base64 root line, a blank line and at least one signature line.
func ParseCheckpoint(text string) (Checkpoint, error) {
	body, sigs, ok := strings.Cut(text, "\n\n")
	if !ok || !strings.HasPrefix(sigs, "\u2014 ") {
		return Checkpoint{}, fmt.Errorf("clustertest.ParseCheckpoint: no signature block in %q", tail(text, 300))
	}
	lines := strings.Split(body, "\n")
	if len(lines) < 3 || lines[0] == "" {
		return Checkpoint{}, fmt.Errorf("clustertest.ParseCheckpoint: want origin, size and root lines, got %q", body)
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("clustertest.ParseCheckpoint: size line %q: %w", lines[1], err)
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return Checkpoint{}, fmt.Errorf("clustertest.ParseCheckpoint: root line %q is not a base64 SHA-256 (%v)", lines[2], err)
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: root, Note: text}, nil
}

// FetchCheckpoint gets GET /v1/checkpoint?shard=k (retrying 5xx and
// transport errors for up to 30 s) and parses it. When the node serves the
// shard's verifier key (GET /v1/checkpoint/key?shard=k), the signature must
// verify with it.
func FetchCheckpoint(tb testing.TB, base string, shard int) Checkpoint {
	tb.Helper()
	q := fmt.Sprintf("?shard=%d", shard)
	body := getRetrying(tb, base, "/v1/checkpoint"+q, 30*time.Second)
	cp, err := ParseCheckpoint(string(body))
	if err != nil {
		tb.Fatalf("shard %d: %v", shard, err)
	}
	status, key, err := Get(context.Background(), base, "/v1/checkpoint/key"+q, "")
	if err != nil || status != http.StatusOK {
		tb.Logf("clustertest: shard %d: no verifier key served (%d %v); signature not checked", shard, status, err)
		return cp
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(key)))
	if err != nil {
		tb.Fatalf("shard %d: served verifier key %q: %v", shard, key, err)
	}
	if _, err := note.Open(body, note.VerifierList(v)); err != nil {
		tb.Errorf("shard %d: checkpoint does not verify with the served key %s: %v", shard, v.Name(), err)
	}
	return cp
}

// getRetrying gets base+path until it answers 200 (5xx and transport errors
// are retried until within passes) and returns the body.
func getRetrying(tb testing.TB, base, path string, within time.Duration) []byte {
	tb.Helper()
	deadline := time.Now().Add(within)
	for {
		status, body, err := Get(context.Background(), base, path, "")
		if err == nil && status == http.StatusOK {
			return body
		}
		if (err == nil && status < 500) || time.Now().After(deadline) {
			tb.Fatalf("clustertest: GET %s: %d %v %s", path, status, err, tail(string(body), 300))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// CheckConsistent fails the test unless checkpoint newer extends older:
// same origin, no smaller, the same root at the same size, else a
// consistency proof from GET /v1/checkpoint/consistency?shard=k that
// verifies with RFC 6962 hashing.
func CheckConsistent(tb testing.TB, base string, shard int, older, newer Checkpoint) {
	tb.Helper()
	switch {
	case older.Origin != newer.Origin:
		tb.Errorf("shard %d: checkpoint origin changed from %q to %q", shard, older.Origin, newer.Origin)
		return
	case newer.Size < older.Size:
		tb.Errorf("shard %d: checkpoint shrank from %d to %d", shard, older.Size, newer.Size)
		return
	case newer.Size == older.Size:
		if !bytes.Equal(older.Root, newer.Root) {
			tb.Errorf("shard %d: two checkpoints of size %d with different roots", shard, older.Size)
		}
		return
	case older.Size == 0:
		return // the empty tree is a prefix of every tree
	}
	path := fmt.Sprintf("/v1/checkpoint/consistency?shard=%d&from=%d&to=%d", shard, older.Size, newer.Size)
	var out struct {
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(getRetrying(tb, base, path, 30*time.Second), &out); err != nil {
		tb.Fatalf("shard %d: %s: %v", shard, path, err)
	}
	p := make([][]byte, len(out.Hashes))
	for i, h := range out.Hashes {
		var err error
		if p[i], err = base64.StdEncoding.DecodeString(h); err != nil {
			tb.Fatalf("shard %d: consistency proof hash %q: %v", shard, h, err)
		}
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, p, older.Root, newer.Root); err != nil {
		tb.Errorf("shard %d: checkpoint %d does not extend checkpoint %d: %v", shard, newer.Size, older.Size, err)
	} else {
		tb.Logf("clustertest: shard %d: checkpoint %d extends %d (proof of %d hashes verified)", shard, newer.Size, older.Size, len(p))
	}
}
