package interceptor_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/guaracloud/auditlog/interceptor"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	for name, c := range map[string]struct {
		peer, xff, fwd, header string
		trusted                []netip.Prefix
		want                   string // "" when no address
	}{
		"PeerOnly":                   {peer: "203.0.113.77:5000", want: "203.0.113.77"},
		"UntrustedPeerXFFIgnored":    {peer: "203.0.113.77:5000", xff: "198.51.100.1", trusted: trusted, want: "203.0.113.77"},
		"NoTrustedProxiesXFFIgnored": {peer: "10.0.0.5:5000", xff: "198.51.100.1", want: "10.0.0.5"},
		"TrustedPeerXFF":             {peer: "10.0.0.5:5000", xff: "198.51.100.1", trusted: trusted, want: "198.51.100.1"},
		"RightmostUntrusted":         {peer: "10.0.0.5:5000", xff: "6.6.6.6, 198.51.100.1, 10.1.1.1", trusted: trusted, want: "198.51.100.1"},
		"SpoofedLeftEntriesIgnored":  {peer: "10.0.0.5:5000", xff: "1.2.3.4, 198.51.100.1", trusted: trusted, want: "198.51.100.1"},
		"AllTrustedLeftmost":         {peer: "10.0.0.5:5000", xff: "10.9.9.9, 10.1.1.1", trusted: trusted, want: "10.9.9.9"},
		"XFFWithPort":                {peer: "10.0.0.5:5000", xff: "198.51.100.1:4711", trusted: trusted, want: "198.51.100.1"},
		"XFFIPv6Bracketed":           {peer: "[fd00::1]:5000", xff: "[2001:db8:abcd:12::1]:80", trusted: trusted, want: "2001:db8:abcd:12::1"},
		"XFFGarbageStopsAtProxy":     {peer: "10.0.0.5:5000", xff: "198.51.100.1, unknown, 10.1.1.1", trusted: trusted, want: "10.1.1.1"},
		"EmptyXFF":                   {peer: "10.0.0.5:5000", xff: "", trusted: trusted, want: "10.0.0.5"},
		"Forwarded":                  {peer: "10.0.0.5:5000", fwd: `for=192.0.2.60;proto=https;by=10.0.0.5`, trusted: trusted, want: "192.0.2.60"},
		"ForwardedIPv6Quoted":        {peer: "10.0.0.5:5000", fwd: `for="[2001:db8:cafe::17]:4711"`, trusted: trusted, want: "2001:db8:cafe::17"},
		"ForwardedChain":             {peer: "10.0.0.5:5000", fwd: `for=6.6.6.6, for=192.0.2.60, For=10.2.2.2`, trusted: trusted, want: "192.0.2.60"},
		"ForwardedObfuscated":        {peer: "10.0.0.5:5000", fwd: `for=_hidden, for=10.2.2.2`, trusted: trusted, want: "10.2.2.2"},
		"XFFPreferredByDefault":      {peer: "10.0.0.5:5000", xff: "198.51.100.1", fwd: "for=6.6.6.6", trusted: trusted, want: "198.51.100.1"},
		"ForwardedPinnedIgnoresXFF":  {peer: "10.0.0.5:5000", xff: "6.6.6.6", fwd: "for=192.0.2.60", header: interceptor.HeaderForwarded, trusted: trusted, want: "192.0.2.60"},
		"XFFPinnedIgnoresForwarded":  {peer: "10.0.0.5:5000", fwd: "for=6.6.6.6", header: interceptor.HeaderXForwardedFor, trusted: trusted, want: "10.0.0.5"},
		"MappedIPv4PeerIsIPv4":       {peer: "[::ffff:10.0.0.5]:5000", xff: "198.51.100.1", trusted: trusted, want: "198.51.100.1"},
		"PeerWithoutPort":            {peer: "203.0.113.77", want: "203.0.113.77"},
		"PeerNotAnAddress":           {peer: "pipe", want: ""},
	} {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = c.peer
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if c.fwd != "" {
				r.Header.Set("Forwarded", c.fwd)
			}
			got, ok := interceptor.ClientIP(r, c.trusted, c.header)
			if c.want == "" {
				if ok {
					t.Fatalf("got %v, want no address", got)
				}
				return
			}
			if !ok || got.String() != c.want {
				t.Fatalf("got %v %v, want %s", got, ok, c.want)
			}
		})
	}
}

// TestEventIPAnonymized: the address in the event is the client's behind a trusted proxy, anonymized.
func TestEventIPAnonymized(t *testing.T) {
	sink := &interceptor.MemorySink{}
	m := interceptor.NewMux(interceptor.Config{Sink: sink, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	m.AuditFunc(route, func(http.ResponseWriter, *http.Request) {})
	for _, c := range []struct{ peer, xff, want string }{
		{"10.0.0.5:1", "2001:db8:abcd:12::1", "2001:db8:abcd::"},
		{"10.0.0.5:1", "198.51.100.77", "198.51.100.0"},
		{"203.0.113.77:1", "198.51.100.77", "203.0.113.0"},
	} {
		sink.Reset()
		r := httptest.NewRequest("PATCH", "/v1/services/s", nil)
		r.RemoteAddr = c.peer
		r.Header.Set("X-Forwarded-For", c.xff)
		m.ServeHTTP(httptest.NewRecorder(), r)
		if e := only(t, sink); e.IP == nil || *e.IP != c.want {
			t.Fatalf("%s via %s: ip %v, want %s", c.xff, c.peer, e.IP, c.want)
		}
	}
}
