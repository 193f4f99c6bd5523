package redact_test

import (
	"encoding/json"
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
			for _, m := range re.FindAllString(s, -1) {
				if strings.Contains(out, m) {
					t.Fatalf("%q survived in %q -> %q", m, s, out)
				}
			}
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
