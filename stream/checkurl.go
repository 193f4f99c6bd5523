package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/redact"
)

// MaxURLLen bounds a destination URL.
const MaxURLLen = 2048

// lookupTimeout bounds CheckURL's resolution of a host name.
const lookupTimeout = 5 * time.Second

// lookupFunc resolves a host name to its addresses.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// systemLookup resolves with the default resolver.
func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckURL validates a destination URL for its type: webhook and splunk_hec
// take https:// (http:// too when allowPrivate), syslog takes tcp://host:port
// or tls://host:port; no credentials in the URL; at most MaxURLLen bytes.
// Unless allowPrivate, it refuses hosts that are, or resolve to, loopback,
// private, link-local (cloud metadata included), unspecified, multicast,
// CGNAT or reserved addresses (a name that does not resolve now is accepted;
// every connection checks again). Every refusal is an EInvalid *auditlog.Error
// naming the "url" parameter.
func CheckURL(ctx context.Context, typ, rawURL string, allowPrivate bool) error {
	return checkURL(ctx, typ, rawURL, allowPrivate, systemLookup)
}

func urlError(format string, args ...any) error {
	return auditlog.ParamError("url", format, args...)
}

// checkURL is CheckURL with the resolver given (the fuzz target's is fake).
func checkURL(ctx context.Context, typ, rawURL string, allowPrivate bool, lookup lookupFunc) error {
	u, err := parseURL(typ, rawURL, allowPrivate)
	if err != nil {
		return err
	}
	if allowPrivate {
		return nil
	}
	host := u.Hostname()
	if a, err := netip.ParseAddr(host); err == nil {
		if blockedAddr(a) {
			return urlError("the destination's address is loopback, private, link-local or otherwise not public; such destinations need the server's --streams-allow-private")
		}
		return nil
	}
	name := strings.TrimSuffix(strings.ToLower(host), ".")
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return urlError("the destination's host is localhost; such destinations need the server's --streams-allow-private")
	}
	ctx, cancel := context.WithTimeout(ctx, lookupTimeout)
	defer cancel()
	addrs, err := lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		// Not resolvable now (a DNS outage, a name made later): accepted.
		// Delivery then fails with that reason shown, and every connection
		// checks the addresses it resolves to, so nothing private is reached.
		return nil
	}
	for _, a := range addrs {
		if blockedAddr(a) {
			return urlError("the destination's host name resolves to a loopback, private, link-local or otherwise not public address; such destinations need the server's --streams-allow-private")
		}
	}
	return nil
}

// parseURL checks the URL's shape for its type, without resolving it.
func parseURL(typ, rawURL string, allowPrivate bool) (*url.URL, error) {
	if rawURL == "" {
		return nil, urlError("a destination needs a url")
	}
	if len(rawURL) > MaxURLLen {
		return nil, urlError("the url is longer than %d bytes", MaxURLLen)
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Opaque != "" || u.Host == "" {
		return nil, urlError("the url is not an absolute URL with a host")
	}
	if u.User != nil {
		return nil, urlError("the url must not hold credentials (user or password); webhooks are signed and Splunk takes its token separately")
	}
	if u.Fragment != "" || strings.Contains(rawURL, "#") {
		return nil, urlError("the url must not have a fragment")
	}
	if err := checkNoSecret(u); err != nil {
		return nil, err
	}
	switch typ {
	case Webhook, SplunkHEC:
		if u.Scheme != "https" && (u.Scheme != "http" || !allowPrivate) {
			return nil, urlError("a %s destination needs an https:// url", typ)
		}
	case Syslog:
		if u.Scheme != "tcp" && u.Scheme != "tls" {
			return nil, urlError("a syslog destination needs a tcp://host:port or tls://host:port url")
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
			return nil, urlError("a syslog url is tcp://host:port or tls://host:port, without a path or query")
		}
		if u.Port() == "" {
			return nil, urlError("a syslog url needs a port (tcp://host:port)")
		}
	default:
		return nil, auditlog.ParamError("type", "unknown destination type %q (want webhook, splunk_hec or syslog)", typ)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, urlError("the url's port is not a number from 1 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return nil, urlError("the url's port is empty")
	}
	if !validHost(u.Hostname()) {
		return nil, urlError("the url's host is not a valid host name or IP address")
	}
	return u, nil
}

// validHost accepts an IP address without a zone, or a DNS name of letters,
// digits, hyphens, underscores and dots whose last label is not numeric (so
// that odd numeric forms like 2130706433 or 0x7f.1 never reach a resolver).
func validHost(h string) bool {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Zone() == ""
	}
	name := strings.TrimSuffix(h, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	labels := strings.Split(name, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	last := labels[len(labels)-1]
	numeric := true
	for i := 0; i < len(last); i++ {
		if last[i] < '0' || last[i] > '9' {
			numeric = false
		}
	}
	return !numeric && !strings.HasPrefix(strings.ToLower(last), "0x")
}

var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),      // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),  // CGNAT
	netip.MustParsePrefix("192.0.0.0/24"),   // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),  // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),    // reserved, broadcast
	netip.MustParsePrefix("fec0::/10"),      // site-local (deprecated)
	netip.MustParsePrefix("100::/64"),       // discard-only
	netip.MustParsePrefix("2001:db8::/32"),  // documentation
	netip.MustParsePrefix("64:ff9b::/96"),   // NAT64: checked by its embedded IPv4 too
	netip.MustParsePrefix("64:ff9b:1::/48"), // local-use NAT64
	netip.MustParsePrefix("2002::/16"),      // 6to4 may embed anything
	netip.MustParsePrefix("::/96"),          // IPv4-compatible (deprecated)
	netip.MustParsePrefix("2001::/32"),      // Teredo may embed anything
	netip.MustParsePrefix("2001:10::/28"),   // ORCHID
	netip.MustParsePrefix("ff00::/8"),       // multicast (also IsMulticast)
	netip.MustParsePrefix("169.254.0.0/16"), // link-local, cloud metadata (also IsLinkLocalUnicast)
	netip.MustParsePrefix("fd00:ec2::/32"),  // AWS IPv6 metadata (inside fc00::/7 too)
	netip.MustParsePrefix("255.255.255.255/32"),
}

// blockedAddr reports whether a is not a public unicast address.
func blockedAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return true
	}
	for _, p := range blockedPrefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// errBlockedDial is what a dial to a refused address reports; it names no address.
var errBlockedDial = errors.New("the destination resolved to a loopback, private, link-local or otherwise not public address")

// dialControl refuses, at connect time, an address CheckURL would refuse:
// the name may resolve differently now than when it was checked (DNS rebinding).
func dialControl(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("stream dial: %w", errBlockedDial)
	}
	if blockedAddr(ap.Addr()) {
		return fmt.Errorf("stream dial: %w", errBlockedDial)
	}
	return nil
}

// newDialer returns the dialer every sender connects with: with the
// connect-time check unless private destinations are allowed.
func newDialer(opts SenderOptions) *net.Dialer {
	d := &net.Dialer{Timeout: opts.timeout(), KeepAlive: 30 * time.Second}
	if !opts.AllowPrivate {
		d.Control = dialControl
	}
	return d
}

// checkNoSecret refuses a URL whose query or path carries what the
// redaction rules call a secret (a parameter named token, secret, password,
// api_key, ...; a JWT, a provider key, a bearer token): the URL is stored and
// shown as it is, so a secret belongs in the Splunk token, and a webhook is
// signed instead.
func checkNoSecret(u *url.URL) error {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return urlError("the url's query is malformed")
	}
	for name, values := range q {
		if redact.SensitiveKey(name) {
			return urlError("the url's query parameter %q looks like a secret; webhooks are signed and Splunk takes its token separately, so leave secrets out of the url", clipName(name))
		}
		for _, v := range values {
			if kind, found := redact.Detect(v); found && secretKind(kind) {
				return urlError("the url's query parameter %q holds what looks like a %s; leave secrets out of the url", clipName(name), kind)
			}
		}
	}
	if kind, found := redact.Detect(u.String()); found && secretKind(kind) {
		return urlError("the url holds what looks like a %s; leave secrets out of the url", kind)
	}
	return nil
}

// secretKind reports whether a redaction kind is a credential (rather than
// personal data such as an e-mail, which a URL may legitimately hold).
func secretKind(kind string) bool {
	switch kind {
	case "email", "phone", "ip", "cpf", "cnpj", "card":
		return false
	}
	return true
}

// clipName bounds a parameter name quoted in a message.
func clipName(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
