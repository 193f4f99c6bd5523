package redact

import "strings"

// Secrets assigned to a sensitive key inside free text: query strings and
// key/value DSNs (?access_token=..., host=db user=app password=...), and JSON
// embedded in a string ({"password": "..."}). The key-name rule decides
// (SensitiveKey); only the value is replaced, by "[REDACTED:secret]". This
// runs after the specific detectors, so "Authorization=Basic ..." keeps its
// basic_auth token instead of losing only its first word.

// findAssignments finds key=value and "key": value pairs whose key is
// sensitive.
func findAssignments(s string) []span {
	var spans []span
	for i := 0; i < len(s); i++ {
		var start, end int
		switch s[i] {
		case '=':
			if !SensitiveKey(keyBefore(s, i)) {
				continue
			}
			start, end = valueAt(s, i+1, " \t\r\n&;,\"'<>)}")
		case ':':
			k, ok := quotedKeyBefore(s, i)
			if !ok || !SensitiveKey(k) {
				continue
			}
			j := i + 1
			for j < len(s) && s[j] == ' ' {
				j++
			}
			start, end = valueAt(s, j, " \t\r\n,}]")
		default:
			continue
		}
		if n := tokenAt(s, start); n > 0 {
			i = start + n - 1 // already redacted; "]" stops a value after ':'
			continue
		}
		if end > start && !isToken(s[start:end]) {
			spans = append(spans, span{start, end, tokSecret})
			i = end - 1
		}
	}
	return spans
}

// keyBefore returns the run of key characters that ends at s[i].
func keyBefore(s string, i int) string {
	j := i
	for j > 0 && (isAlnum(s[j-1]) || s[j-1] == '_' || s[j-1] == '-' || s[j-1] == '.') {
		j--
	}
	return s[j:i]
}

// quotedKeyBefore returns k when s[:i] ends with "k" and optional spaces.
func quotedKeyBefore(s string, i int) (string, bool) {
	j := i
	for j > 0 && s[j-1] == ' ' {
		j--
	}
	if j == 0 || s[j-1] != '"' {
		return "", false
	}
	k := strings.LastIndexByte(s[:j-1], '"')
	if k < 0 || j-1-k > 64 {
		return "", false
	}
	return s[k+1 : j-1], true
}

// valueAt returns the bounds of the value starting at s[i]: the inside of a
// quoted string, or the bytes up to one of stop.
func valueAt(s string, i int, stop string) (int, int) {
	if i >= len(s) {
		return i, i
	}
	if q := s[i]; q == '"' || q == '\'' {
		end := i + 1
		for end < len(s) && s[end] != q {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		return i + 1, min(end, len(s))
	}
	end := i
	for end < len(s) && strings.IndexByte(stop, s[end]) < 0 {
		end++
	}
	return i, end
}

// tokenAt returns the length of the replacement ([REDACTED] or
// [REDACTED:<kind>]) s[i:] starts with, or 0.
func tokenAt(s string, i int) int {
	if !strings.HasPrefix(s[i:], "[REDACTED") {
		return 0
	}
	j := strings.IndexByte(s[i:], ']')
	if j < 0 || !isToken(s[i:i+j+1]) {
		return 0
	}
	return j + 1
}

// isToken reports whether v is already a replacement, [REDACTED] or
// [REDACTED:<kind>].
func isToken(v string) bool {
	if v == Redacted {
		return true
	}
	kind, ok := strings.CutPrefix(v, "[REDACTED:")
	if !ok || !strings.HasSuffix(kind, "]") || len(kind) < 2 {
		return false
	}
	for i := 0; i < len(kind)-1; i++ {
		if c := kind[i]; (c < 'a' || c > 'z') && c != '_' {
			return false
		}
	}
	return true
}
