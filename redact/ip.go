package redact

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// errInvalidIP never carries the input: a client address is PII.
var errInvalidIP = errors.New("invalid IP address")

// IP anonymizes a client address: IPv4 to its /24, IPv6 to its /48, IPv4-mapped IPv6 as IPv4; zones dropped. Error for anything that is not an IP.
//
// Only a bare address is accepted: "203.0.113.77:8080", "[::1]" and
// "10.0.0.0/8" are errors.
func IP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", fmt.Errorf("redact.IP: %w", errInvalidIP)
	}
	return anonymize(a).String(), nil
}

// anonymize keeps the /24 of an IPv4 (or IPv4-mapped) address and the /48 of
// an IPv6 address, without its zone.
func anonymize(a netip.Addr) netip.Addr {
	a = a.WithZone("")
	bits := 48
	if a.Is4In6() {
		a = a.Unmap()
	}
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return netip.Addr{} // unreachable: a is valid and bits fit
	}
	return p.Addr()
}

// notPersonal reports whether a is a loopback or unspecified address (::1,
// 127.0.0.1, ::, 0.0.0.0): they name the machine itself, not a person, so
// text such as "listen on ::1 port 80" keeps them. The ip field is still
// anonymized by IP whatever it holds.
func notPersonal(a netip.Addr) bool {
	a = a.Unmap()
	return a.IsLoopback() || a.IsUnspecified()
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'f'
}

func isZoneChar(c byte) bool { return isAlnum(c) || c == '_' || c == '-' || c == '.' }

// findIPv6 replaces IPv6 addresses (with an optional %zone) in free text by
// their anonymized form. A candidate is a run of hex digits, colons and dots
// with at least two colons that is not glued to a word and that net/netip
// parses, so timestamps (19:07:48), MAC addresses, SHAs and Foo::Bar stay.
func findIPv6(s string) []span {
	var spans []span
	for i := 0; i < len(s); {
		if !isHex(s[i]) && s[i] != ':' {
			i++
			continue
		}
		j, colons := i, 0
		for j < len(s) && (isHex(s[j]) || s[j] == ':' || s[j] == '.') {
			if s[j] == ':' {
				colons++
			}
			j++
		}
		start, end := i, j
		i = j
		if colons < 2 || isAlnum(before(s, start)) || before(s, start) == '_' {
			continue
		}
		if after(s, end) == '%' {
			z := end + 1
			for z < len(s) && isZoneChar(s[z]) {
				z++
			}
			if z > end+1 {
				end = z
			}
		}
		i = end // the zone is part of the candidate: never the start of another one
		if a := after(s, end); isAlnum(a) || a == '_' {
			continue
		}
		if sp, ok := parseIPv6Run(s, start, end); ok && sp.repl != s[sp.start:sp.end] {
			spans = append(spans, sp)
		}
	}
	return spans
}

// parseIPv6Run tries s[start:end] as an IPv6 address, then without trailing
// dots (end of a sentence), a trailing single colon, or a leading label.
func parseIPv6Run(s string, start, end int) (span, bool) {
	for end > start && s[end-1] == '.' {
		end--
	}
	if strings.HasSuffix(s[start:end], ":") && !strings.HasSuffix(s[start:end], "::") {
		end--
	}
	for attempt := 0; attempt < 2; attempt++ {
		cand := s[start:end]
		if strings.Count(cand, ":") < 2 {
			break
		}
		if a, err := netip.ParseAddr(cand); err == nil && a.Is6() {
			if notPersonal(a) {
				return span{}, false
			}
			return span{start, end, anonymize(a).String()}, true
		}
		// "label:2001:db8::1": drop what precedes the first single colon.
		k := strings.IndexByte(cand, ':')
		if k < 0 || strings.HasPrefix(cand[k:], "::") {
			break
		}
		start += k + 1
	}
	return span{}, false
}

// findIPv4 replaces dotted-quad IPv4 addresses in free text by their
// anonymized form. An address must stand alone: not after a letter (v1.2.3.4)
// or a dot, and not followed by a letter or another .digit (a longer dotted
// run); a /prefix or :port after it stays.
func findIPv4(s string) []span {
	var spans []span
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		start := i
		end, ok := scanDottedQuad(s, start)
		// Skip the whole run of digits and dots either way.
		for i = start; i < len(s) && (isDigit(s[i]) || s[i] == '.'); i++ {
		}
		b := before(s, start)
		if !ok || isAlnum(b) || b == '.' || b == '_' {
			continue
		}
		if a := after(s, end); isAlnum(a) || a == '_' || a == '.' && isDigit(after(s, end+1)) {
			continue
		}
		a, err := netip.ParseAddr(s[start:end])
		if err != nil || notPersonal(a) {
			continue
		}
		if r := anonymize(a).String(); r != s[start:end] {
			spans = append(spans, span{start, end, r})
		}
	}
	return spans
}

// scanDottedQuad reads d{1,3}.d{1,3}.d{1,3}.d{1,3} at s[start:] and returns its end.
func scanDottedQuad(s string, start int) (int, bool) {
	i := start
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(s) || s[i] != '.' {
				return 0, false
			}
			i++
		}
		n := 0
		for i < len(s) && isDigit(s[i]) && n < 4 {
			i++
			n++
		}
		if n == 0 || n > 3 {
			return 0, false
		}
	}
	return i, true
}
