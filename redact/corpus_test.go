package redact_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

type corpus struct {
	SensitiveStrings  []struct{ Kind, Secret, Text string } `json:"sensitive_strings"`
	BenignStrings     []string                              `json:"benign_strings"`
	SensitivePayloads []struct {
		Action   string
		Secrets  []string
		Metadata map[string]any
	} `json:"sensitive_payloads"`
	BenignPayloads []struct {
		Action   string
		Metadata map[string]any
	} `json:"benign_payloads"`
}

func loadCorpus(tb testing.TB) corpus {
	tb.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		tb.Fatal(err)
	}
	var c corpus
	decodeJSON(tb, b, &c)
	return c
}

// TestCorpus measures recall over the sensitive corpus (must be 100%) and the
// false-positive rate over the benign corpus (must be 0%).
func TestCorpus(t *testing.T) {
	c := loadCorpus(t)

	var positives, caught int
	for _, s := range c.SensitiveStrings {
		positives++
		got := redact.String(s.Text)
		want := "[REDACTED:" + s.Kind + "]"
		if s.Kind == "ip" {
			want = ""
		}
		if !strings.Contains(got, s.Secret) && strings.Contains(got, want) {
			caught++
		} else {
			t.Errorf("missed %s in %q: got %q", s.Kind, s.Text, got)
		}
	}
	for _, tc := range kindCases {
		positives++
		if redact.String(tc.in) == tc.want {
			caught++
		}
	}
	for _, p := range c.SensitivePayloads {
		got := mustJSON(t, redact.Metadata(p.Action, p.Metadata))
		for _, secret := range p.Secrets {
			positives++
			if strings.Contains(got, secret) {
				t.Errorf("%s: secret %q survived: %s", p.Action, secret, got)
			} else {
				caught++
			}
		}
	}

	var negatives, changed int
	benign := append(append([]string{}, c.BenignStrings...), benignValues...)
	for _, s := range benign {
		negatives++
		if got := redact.String(s); got != s {
			changed++
			t.Errorf("false positive: %q -> %q", s, got)
		}
	}
	for _, p := range c.BenignPayloads {
		negatives++
		if got := redact.Metadata(p.Action, p.Metadata); !reflect.DeepEqual(got, p.Metadata) {
			changed++
			t.Errorf("false positive in %s: %s -> %s", p.Action, mustJSON(t, p.Metadata), mustJSON(t, got))
		}
	}

	recall := 100 * float64(caught) / float64(positives)
	fpRate := 100 * float64(changed) / float64(negatives)
	t.Logf("recall %.1f%% (%d/%d sensitive values), false-positive rate %.1f%% (%d/%d benign values)",
		recall, caught, positives, fpRate, changed, negatives)
	if caught != positives || changed != 0 {
		t.Fatalf("want recall 100%% and false-positive rate 0%%")
	}
}
