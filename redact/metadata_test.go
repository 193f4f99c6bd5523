package redact_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

// decodeJSON decodes b the way the audit log decodes metadata.
func decodeJSON(tb testing.TB, b []byte, v any) {
	tb.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("decode: %v", err)
	}
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// deepCopy copies decoded JSON through a JSON round trip.
func deepCopy(tb testing.TB, m map[string]any) map[string]any {
	tb.Helper()
	var out map[string]any
	decodeJSON(tb, []byte(mustJSON(tb, m)), &out)
	return out
}

func TestMetadata_payloads(t *testing.T) {
	b, err := os.ReadFile("testdata/payloads.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name   string
		Action string
		In     map[string]any
		Want   map[string]any
	}
	decodeJSON(t, b, &cases)
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			before := deepCopy(t, tc.In)
			got := redact.Metadata(tc.Action, tc.In)
			if !reflect.DeepEqual(got, tc.Want) {
				t.Errorf("Metadata(%q)\n got %s\nwant %s", tc.Action, mustJSON(t, got), mustJSON(t, tc.Want))
			}
			if !reflect.DeepEqual(tc.In, before) {
				t.Errorf("Metadata mutated its input:\n now %s\n was %s", mustJSON(t, tc.In), mustJSON(t, before))
			}
			if again := redact.Metadata(tc.Action, got); !reflect.DeepEqual(again, got) {
				t.Errorf("Metadata is not idempotent:\n once %s\ntwice %s", mustJSON(t, got), mustJSON(t, again))
			}
		})
	}
}

func TestMetadata_nil(t *testing.T) {
	got := redact.Metadata("service.update", nil)
	if got == nil || len(got) != 0 {
		t.Fatalf("Metadata(nil) = %#v, want an empty non-nil map", got)
	}
	if s := mustJSON(t, got); s != "{}" {
		t.Fatalf("Metadata(nil) encodes as %s", s)
	}
}

func TestMetadata_copyIsDeep(t *testing.T) {
	in := map[string]any{"a": map[string]any{"b": []any{"x", map[string]any{"c": "y"}}}}
	out := redact.Metadata("service.update", in)
	out["a"].(map[string]any)["b"].([]any)[1].(map[string]any)["c"] = "changed"
	if in["a"].(map[string]any)["b"].([]any)[1].(map[string]any)["c"] != "y" {
		t.Fatal("output shares structure with the input")
	}
}

func TestMetadata_deepNesting(t *testing.T) {
	const depth = 2400 // 4800 levels: under encoding/json's limit, past the cycle check
	var sb strings.Builder
	for range depth {
		sb.WriteString(`{"a":[`)
	}
	sb.WriteString(`{"password":"hunter2","email":"alice@example.com"}`)
	for range depth {
		sb.WriteString(`]}`)
	}
	var m map[string]any
	decodeJSON(t, []byte(sb.String()), &m)
	got := mustJSON(t, redact.Metadata("service.update", m))
	if strings.Contains(got, "hunter2") || strings.Contains(got, "alice@") {
		t.Fatal("deeply nested secret survived")
	}
	if !strings.Contains(got, `{"email":"[REDACTED:email]","password":"[REDACTED]"}`) {
		t.Fatalf("deep leaf not redacted as expected: ...%s", got[len(got)/2-60:len(got)/2+60])
	}
}

func TestMetadata_otherTypes(t *testing.T) {
	type header struct {
		Name  string `json:"name"`
		Token string `json:"token"`
	}
	in := map[string]any{
		"n":       42,
		"f":       1.5,
		"strings": []string{"alice@example.com", "ok"},
		"labels":  map[string]string{"owner": "bob@example.com", "api_key": "k"},
		"header":  header{Name: "x", Token: "t0k3n"},
		"ch":      make(chan int), // not JSON: fails closed
		"pwd":     []int{1, 2},
	}
	got := redact.Metadata("service.update", in)
	want := map[string]any{
		"n":       42,
		"f":       1.5,
		"strings": []any{"[REDACTED:email]", "ok"},
		"labels":  map[string]any{"owner": "[REDACTED:email]", "api_key": "[REDACTED]"},
		"header":  map[string]any{"name": "x", "token": "[REDACTED]"},
		"ch":      "[REDACTED]",
		"pwd":     []any{"[REDACTED]", "[REDACTED]"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v\nwant %#v", got, want)
	}
}

func TestMetadata_cycle(t *testing.T) {
	m := map[string]any{"name": "loop"}
	m["self"] = m
	got := redact.Metadata("service.update", m)
	want := map[string]any{"name": redact.Redacted, "self": redact.Redacted}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// Keys are checked like values; keys that redact alike stay distinct, named
// in the order of the original keys whatever the map's iteration order, and
// many of them cost linear time.
func TestMetadata_keys(t *testing.T) {
	in := map[string]any{"b@y.com": 2, "a@x.com": 1, "[REDACTED:email]": 0, "key.owner@example.net": "x", "region": "sa-east-1"}
	want := map[string]any{"[REDACTED:email]": 0, "[REDACTED:email] (2)": 1, "[REDACTED:email] (3)": 2, "[REDACTED:email] (4)": "x", "region": "sa-east-1"}
	for range 20 {
		if got := redact.Metadata("project.update", in); !reflect.DeepEqual(got, want) {
			t.Fatalf("got %v\nwant %v", got, want)
		}
	}
	many := map[string]any{}
	for i := range 6000 {
		many[fmt.Sprintf("u%d@acme.com.br", i)] = i
	}
	got := redact.Metadata("project.update", many)
	if len(got) != len(many) {
		t.Fatalf("%d keys out of %d", len(got), len(many))
	}
	for k := range got {
		if strings.Contains(k, "@") {
			t.Fatalf("key %q survived", k)
		}
	}
}
