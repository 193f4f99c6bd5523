package interceptor

import (
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the client's address: the connection's peer, or, when the
// peer is a trusted proxy, the right-most address of the forwarding header
// that is not itself a trusted proxy. header is HeaderXForwardedFor,
// HeaderForwarded, or "" for X-Forwarded-For when present and Forwarded
// otherwise. An unparsable hop (such as "unknown" or an obfuscated Forwarded
// node) ends the walk at the last proxy that could be trusted to name it.
// It returns false when the peer address is not an IP (a unix socket, a test pipe).
func ClientIP(r *http.Request, trusted []netip.Prefix, header string) (netip.Addr, bool) {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false
	}
	if !isTrusted(peer, trusted) {
		return peer, true
	}
	var hops []string
	xff := r.Header.Values(HeaderXForwardedFor)
	fwd := r.Header.Values(HeaderForwarded)
	switch {
	case header == HeaderForwarded, header == "" && len(xff) == 0:
		hops = forwardedFor(fwd)
	default:
		for _, v := range xff {
			hops = append(hops, strings.Split(v, ",")...)
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		client = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return client, true
}

// isTrusted reports whether a is inside one of the trusted prefixes.
func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop parses one address as proxies write it: bare, with a port, or
// bracketed IPv6 with or without a port; IPv4-mapped IPv6 becomes IPv4 and a zone is dropped.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.Trim(strings.TrimSpace(s), `"`)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone(""), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// forwardedFor returns the for= nodes of RFC 7239 Forwarded header values, in order.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			node := "unknown" // an element without for= names no address
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					node = val
				}
			}
			out = append(out, node)
		}
	}
	return out
}
