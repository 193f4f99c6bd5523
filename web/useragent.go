package web

import (
	"strings"
	"unicode/utf8"
)

// maxShortUA bounds the shortened user agent shown in the table.
const maxShortUA = 32

// shortUserAgent names the client behind a user agent in a few words:
// "Chrome 131 on Linux", "Safari 17.5 on macOS", or the first product token
// of a tool ("guara-cli/2.4.0"). The full string stays in the detail panel.
func shortUserAgent(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return ""
	}
	if strings.HasPrefix(ua, "Mozilla/") {
		if b := browserOf(ua); b != "" {
			if os := osOf(ua); os != "" {
				return b + " on " + os
			}
			return b
		}
	}
	first, _, _ := strings.Cut(ua, " ")
	return truncate(first, maxShortUA)
}

// browserOf names the browser and its major version (Safari: its version).
func browserOf(ua string) string {
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"},
	} {
		if v, ok := versionAfter(ua, b.token); ok {
			major, _, _ := strings.Cut(v, ".")
			return b.name + " " + major
		}
	}
	if strings.Contains(ua, "Safari/") {
		if v, ok := versionAfter(ua, "Version/"); ok {
			return "Safari " + v
		}
		return "Safari"
	}
	return ""
}

// versionAfter returns the version that follows token in ua.
func versionAfter(ua, token string) (string, bool) {
	i := strings.Index(ua, token)
	if i < 0 {
		return "", false
	}
	v := ua[i+len(token):]
	if j := strings.IndexAny(v, " ;)"); j >= 0 {
		v = v[:j]
	}
	return v, v != ""
}

// osOf names the operating system a browser user agent reports.
func osOf(ua string) string {
	switch {
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"):
		return "iOS"
	case strings.Contains(ua, "Android"):
		return "Android"
	case strings.Contains(ua, "Windows"):
		return "Windows"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		return "macOS"
	case strings.Contains(ua, "CrOS"):
		return "ChromeOS"
	case strings.Contains(ua, "Linux"):
		return "Linux"
	}
	return ""
}

// truncate shortens s to at most n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
