package redact_test

import (
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

func TestIP(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for in, want := range map[string]string{
			"203.0.113.77":                       "203.0.113.0",
			"203.0.113.0":                        "203.0.113.0",
			"127.0.0.1":                          "127.0.0.0",
			"0.0.0.0":                            "0.0.0.0",
			"255.255.255.255":                    "255.255.255.0",
			"2001:db8:abcd:12::1":                "2001:db8:abcd::",
			"2001:DB8:ABCD:12::1":                "2001:db8:abcd::",
			"2001:db8:abcd::":                    "2001:db8:abcd::",
			"::ffff:203.0.113.77":                "203.0.113.0",
			"::ffff:cb00:714d":                   "203.0.113.0",
			"fe80::1%eth0":                       "fe80::",
			"fe80::abcd:1%25":                    "fe80::",
			"::1":                                "::",
			"::":                                 "::",
			"2a03:2880:f12f:83:face:b00c:0:25de": "2a03:2880:f12f::",
		} {
			got, err := redact.IP(in)
			if err != nil || got != want {
				t.Errorf("IP(%q) = %q, %v; want %q", in, got, err, want)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, in := range []string{
			"", "not-an-ip", "1.2.3", "203.0.113.77:8080", "[::1]", "[::1]:443", "10.0.0.0/8",
			"256.1.1.1", "01.2.3.4", " 203.0.113.77", "203.0.113.77\n", "fe80::1%", "alice@example.com",
		} {
			got, err := redact.IP(in)
			if err == nil {
				t.Errorf("IP(%q) = %q, want an error", in, got)
				continue
			}
			if msg := err.Error(); msg != "redact.IP: invalid IP address" {
				t.Errorf("IP(%q) error = %q", in, msg)
			}
			if in != "" && strings.Contains(err.Error(), in) {
				t.Errorf("IP(%q) error leaks the input: %q", in, err)
			}
		}
	})
}

// TestString_ipv6Zones: a zone is part of its address, never the start of
// another candidate (FuzzMetadataKeys found "::%0::10" spliced with
// overlapping spans: a panic).
func TestString_ipv6Zones(t *testing.T) {
	for in, want := range map[string]string{
		"::%0::10":                          "::::10",
		"fe80::1%eth0 and 2001:db8:abcd::9": "fe80:: and 2001:db8:abcd::",
		"fe80::1%0::2:3":                    "fe80::::2:3",
	} {
		if got := redact.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
}
