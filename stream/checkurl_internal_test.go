package stream

import (
	"context"
	"errors"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
)

// fakeLookup resolves names from a table; anything else does not resolve.
func fakeLookup(table map[string][]string) lookupFunc {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, s := range table[strings.ToLower(host)] {
			out = append(out, netip.MustParseAddr(s))
		}
		if len(out) == 0 {
			return nil, errors.New("no such host")
		}
		return out, nil
	}
}

var names = map[string][]string{
	"siem.example.com":     {"93.184.216.34"},
	"rebind.example.com":   {"93.184.216.34", "127.0.0.1"},
	"loop.example.com":     {"127.0.0.1"},
	"meta.example.com":     {"169.254.169.254"},
	"private6.example.com": {"fd12::1"},
	"mapped.example.com":   {"::ffff:10.0.0.1"},
	"cgnat.example.com":    {"100.64.1.1"},
}

func TestCheckURLResolvedNames(t *testing.T) {
	ctx := context.Background()
	lookup := fakeLookup(names)
	for _, host := range []string{"loop.example.com", "meta.example.com", "private6.example.com", "mapped.example.com",
		"cgnat.example.com", "rebind.example.com"} {
		err := checkURL(ctx, Webhook, "https://"+host+"/hook", false, lookup)
		if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "url" {
			t.Errorf("%s: %v, want invalid_parameter on url", host, err)
		}
		if err := checkURL(ctx, Webhook, "https://"+host+"/hook", true, lookup); err != nil {
			t.Errorf("%s with private allowed: %v", host, err)
		}
	}
	if err := checkURL(ctx, Webhook, "https://siem.example.com/hook", false, lookup); err != nil {
		t.Errorf("a public name: %v", err)
	}
	// A name that does not resolve now is accepted: each connection checks it (TestDialTimeRecheck).
	if err := checkURL(ctx, Webhook, "https://unknown.example.com/hook", false, lookup); err != nil {
		t.Errorf("a name that does not resolve now: %v", err)
	}
	if err := checkURL(ctx, Syslog, "tls://siem.example.com:6514", false, lookup); err != nil {
		t.Errorf("a public syslog name: %v", err)
	}
}

// FuzzCheckURL checks that CheckURL never panics, that every refusal is an
// invalid_parameter error on url (or type), and that what it accepts without
// private destinations is a URL of the type's scheme whose host is a public
// address, resolves only to public addresses, or does not resolve now.
func FuzzCheckURL(f *testing.F) {
	for _, s := range []string{"https://siem.example.com/hook", "https://127.0.0.1/", "https://[::1]:8443/x",
		"tcp://siem.example.com:514", "tls://93.184.216.34:6514", "https://u:p@siem.example.com/", "http://siem.example.com/",
		"https://0x7f.1/", "https://2130706433/", "https://[fe80::1%25eth0]/", "https://siem.example.com:0/", "https://loop.example.com/",
		"https://169.254.169.254/latest/meta-data", "tcp://[::ffff:127.0.0.1]:514", "https://siem.example.com#x", ""} {
		f.Add(Webhook, s)
		f.Add(Syslog, s)
	}
	lookup := fakeLookup(names)
	f.Fuzz(func(t *testing.T, typ, raw string) {
		err := checkURL(context.Background(), typ, raw, false, lookup)
		if err != nil {
			var ae *auditlog.Error
			if !errors.As(err, &ae) || ae.Code != auditlog.EInvalid || (ae.Param != "url" && ae.Param != "type") {
				t.Fatalf("%q %q: %v is not an invalid_parameter error on url", typ, raw, err)
			}
			return
		}
		if len(raw) > MaxURLLen {
			t.Fatalf("accepted a url of %d bytes", len(raw))
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.User != nil {
			t.Fatalf("accepted %q (%v)", raw, perr)
		}
		want := map[string][]string{Webhook: {"https"}, SplunkHEC: {"https"}, Syslog: {"tcp", "tls"}}[typ]
		if !slices.Contains(want, u.Scheme) {
			t.Fatalf("accepted scheme %q for %q", u.Scheme, typ)
		}
		addrs := []netip.Addr{}
		if a, err := netip.ParseAddr(u.Hostname()); err == nil {
			addrs = append(addrs, a)
		} else if addrs, err = lookup(context.Background(), u.Hostname()); err != nil {
			addrs = nil // not resolvable now: accepted, and checked again at every connection
		}
		for _, a := range addrs {
			if a = a.Unmap(); a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified() || a.IsMulticast() {
				t.Fatalf("accepted %q reaching %v", raw, a)
			}
		}
	})
}

// TestURLCarriesNoSecret: a destination URL is stored and shown as it is, so
// one that carries a credential (by parameter name or by value pattern) is
// refused, and the refusal never repeats the value; benign URLs pass.
func TestURLCarriesNoSecret(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://splunk.example.com:8088/services/collector/event", true},
		{"https://http-inputs-acme.splunkcloud.com/services/collector/event?channel=0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f", true},
		{"https://siem.example.com/auditlog/ingest/v2?source=guara&region=sa-east-1&owner=sec@example.com", true},
		{"https://api.datadoghq.com/api/v2/logs?ddsource=auditlog&token_count=2", true},
		{"https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", false},
		{"https://x.example.com/hook?token=abc123", false},
		{"https://x.example.com/hook?DD-API-KEY=abc123", false},
		{"https://x.example.com/hook?sig=" + jwt, false},
		{"https://x.example.com/ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789/in", false},
		{"https://x.example.com/hook?a=%zz", false},
	} {
		_, err := parseURL(Webhook, c.url, false)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.url, err)
		}
		if err != nil && (strings.Contains(err.Error(), "abc123") || strings.Contains(err.Error(), jwt) || strings.Contains(err.Error(), "ghp_")) {
			t.Errorf("the refusal repeats the secret: %v", err)
		}
	}
}
