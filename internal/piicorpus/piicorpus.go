// Package piicorpus loads redact/testdata/corpus.json, the PII corpus that
// redact, auditlog.Sanitize and the end-to-end privacy test measure
// themselves against. It is for tests only.
package piicorpus

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Corpus is the file's content; numbers are json.Number, as the API decodes them.
type Corpus struct {
	// SensitiveStrings are texts holding one secret of a kind.
	SensitiveStrings []struct{ Kind, Secret, Text string } `json:"sensitive_strings"`
	// BenignStrings must pass unchanged.
	BenignStrings []string `json:"benign_strings"`
	// SensitiveNumbers are PII sent as JSON numbers; Digits is the number's
	// digit-only form, which must not survive either.
	SensitiveNumbers []struct {
		Kind   string
		Number json.Number
		Digits string
	} `json:"sensitive_numbers"`
	// SensitivePayloads are metadata objects: Secrets must not survive, Keep
	// (benign parts: names, keys, numbers) must.
	SensitivePayloads []struct {
		Action        string
		Secrets, Keep []string
		Metadata      map[string]any
	} `json:"sensitive_payloads"`
	// BenignPayloads must pass unchanged.
	BenignPayloads []struct {
		Action   string
		Metadata map[string]any
	} `json:"benign_payloads"`
	// SensitiveEvents hold PII in the event's own fields (resource_id,
	// project_id, user_agent, ip) and metadata, as the API's JSON.
	SensitiveEvents []struct {
		Secrets []string
		Event   map[string]any
	} `json:"sensitive_events"`
	// BenignEvents must pass unchanged, field by field.
	BenignEvents []map[string]any `json:"benign_events"`
	// PIIActors are actor ids that are personal data (refused); BenignActors
	// are account ids (accepted).
	PIIActors    []string `json:"pii_actors"`
	BenignActors []string `json:"benign_actors"`
}

// Load reads the corpus, wherever the calling test runs.
func Load(tb testing.TB) Corpus {
	tb.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("piicorpus: cannot locate the corpus")
	}
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(self), "..", "..", "redact", "testdata", "corpus.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var c Corpus
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		tb.Fatalf("piicorpus: %v", err)
	}
	return c
}

// Printable makes a corpus text usable as an id or a user agent: control
// characters (a PEM's newlines) become spaces.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
