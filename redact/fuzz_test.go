package redact_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

// Reference patterns: a match of these in the input must never reach the output.
var (
	refJWT = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	refAWS = regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b`)
)

// fuzzSecrets are embedded, space-separated, into fuzzed text.
var fuzzSecrets = []string{
	"alice@example.com", "maria.silva+ops@acme.com.br",
	"4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444", "378282246310005",
	testJWT, "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
	"AKIAIOSFODNN7EXAMPLE", "ASIAY34FZKBOKMUTVV7A",
	"josé@exemplo.com.br", "11987654321", "5511987654321", "529 982 247 25", "4111.1111.1111.1111",
}

func FuzzString(f *testing.F) {
	for _, tc := range kindCases {
		f.Add(tc.in, uint8(0))
	}
	for i, s := range benignValues {
		f.Add(s, uint8(i))
	}
	f.Fuzz(func(t *testing.T, s string, pick uint8) {
		out := redact.String(s)
		if again := redact.String(out); again != out {
			t.Fatalf("not idempotent:\n   in %q\n once %q\ntwice %q", s, out, again)
		}
		for _, re := range []*regexp.Regexp{refJWT, refAWS} {
			// A match left in the output that was in the input survived
			// (a mere substring may be part of a longer, different token).
			for _, m := range re.FindAllString(out, -1) {
				if strings.Contains(s, m) {
					t.Fatalf("%q survived in %q -> %q", m, s, out)
				}
			}
		}
		if _, found := redact.Detect(s); found != (out != s) {
			t.Fatalf("Detect(%q) = %v, but String changes it to %q", s, found, out)
		}
		secret := fuzzSecrets[int(pick)%len(fuzzSecrets)]
		if strings.Contains(s, secret) {
			return // the secret may stand inside a longer number or word there
		}
		in := s + " " + secret + " " + s
		if out := redact.String(in); strings.Contains(out, secret) {
			t.Fatalf("embedded %q survived: %q -> %q", secret, in, out)
		}
	})
}

func FuzzMetadata(f *testing.F) {
	f.Add([]byte(`{"password":"hunter2","diff":{"image":{"from":"a:1","to":"a:2"}}}`), "service.update")
	f.Add([]byte(`{"env":[{"name":"A","value":"x","valueFrom":{"secretKeyRef":{"name":"s"}}}],"email":"a@b.co"}`), "deploy.create")
	f.Add([]byte(`{"key":"K","value":{"from":"1","to":null},"values":[1,"x",{"y":true}]}`), "env_var.update")
	f.Add([]byte(`{"a":[[[{"token":[null,1.5e3,"t"]}]]],"ip":"203.0.113.77"}`), "env_var.")
	f.Add([]byte(`{"environment":"production","variables":{"A":["B=1","C"]},"env":"x"}`), "service.update")
	f.Add([]byte(`{"headers":[{"name":"Bearer abcdef123","value":"v"},{"key":"x@password.com","value":{"a":1}}]}`), "webhook.create")
	f.Fuzz(func(t *testing.T, data []byte, action string) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.UseNumber()
		if dec.Decode(&m) != nil {
			return
		}
		before, err := json.Marshal(m)
		if err != nil {
			t.Skip()
		}
		out := redact.Metadata(action, m)
		if out == nil {
			t.Fatal("nil output")
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatalf("output is not JSON-encodable: %v", err)
		}
		if after, _ := json.Marshal(m); string(after) != string(before) {
			t.Fatalf("input mutated:\n was %s\n now %s", before, after)
		}
		if again := redact.Metadata(action, out); !reflect.DeepEqual(again, out) {
			t.Fatalf("not idempotent:\n once %v\ntwice %v", out, again)
		}
	})
}

// FuzzMetadataKeys fuzzes keys and numbers: a fuzzed key and a fuzzed
// number literal, next to the same key with a secret embedded and Go
// numbers; keys stay unique, secrets in keys and numbers do not survive.
func FuzzMetadataKeys(f *testing.F) {
	f.Add("key.owner@example.net", "52998224725", int64(11987654321), 4111111111111111.0, uint8(0), "service.update")
	f.Add("a@x.com", "5.2998224725e10", int64(-52998224725), 11987654321.0, uint8(3), "env_var.set")
	f.Add("[REDACTED:email]", "-1e-7", int64(0), 0.5, uint8(7), "user.update")
	f.Add("password_policy", "11987654321.000", int64(5511987654321), 1e300, uint8(11), "project.update")
	f.Add("env", "1E+24", int64(4111111111111111), -0.0, uint8(12), "env_var.update")
	f.Fuzz(func(t *testing.T, key, number string, i int64, x float64, pick uint8, action string) {
		secret := fuzzSecrets[int(pick)%len(fuzzSecrets)]
		if strings.Contains(key, secret) {
			return // the secret may stand inside a longer word there
		}
		m := map[string]any{
			key:                            number,
			key + " " + secret + " " + key: "v",
			secret:                         key,
			"i":                            i,
			"f":                            x,
			"nested":                       map[string]any{key: []any{i, x, secret}},
		}
		if json.Valid([]byte(number)) && strings.Trim(number, "-+.0123456789eE") == "" {
			m["n"] = json.Number(number)
		}
		before := fmt.Sprint(m)
		out := redact.Metadata(action, m)
		if len(out) != len(m) {
			t.Fatalf("keys lost or merged: %d in, %d out: %v", len(m), len(out), out)
		}
		b, err := json.Marshal(out)
		if err != nil {
			t.Fatalf("output is not JSON-encodable: %v", err)
		}
		if fmt.Sprint(m) != before {
			t.Fatalf("input mutated")
		}
		for k := range out {
			if strings.Contains(k, secret) {
				t.Fatalf("secret %q survived in key %q: %s", secret, k, b)
			}
		}
		if again := redact.Metadata(action, out); !reflect.DeepEqual(again, out) {
			t.Fatalf("not idempotent:\n once %v\ntwice %v", out, again)
		}
	})
}

func FuzzIP(f *testing.F) {
	for _, s := range []string{"203.0.113.77", "2001:db8:abcd:12::1", "::ffff:203.0.113.77", "fe80::1%eth0", "::1", "", "1.2.3", "203.0.113.77:8080"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := redact.IP(s)
		_, perr := netip.ParseAddr(s)
		if (err == nil) != (perr == nil) {
			t.Fatalf("IP(%q) error %v, netip says %v", s, err, perr)
		}
		if err != nil {
			if err.Error() != "redact.IP: invalid IP address" {
				t.Fatalf("error must not carry the input: %v", err)
			}
			return
		}
		a, err := netip.ParseAddr(got)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			t.Fatalf("IP(%q) = %q: not a plain address (%v)", s, got, err)
		}
		if again, err := redact.IP(got); err != nil || again != got {
			t.Fatalf("IP(IP(%q)) = %q, %v; want %q", s, again, err, got)
		}
		if s2 := redact.String(got); s2 != got {
			t.Fatalf("String(%q) = %q, want the anonymized address unchanged", got, s2)
		}
	})
}
