package redact

import "strings"

// Passwords inside URLs with userinfo, any scheme: postgres://user:PASSWORD@host,
// https://u:p@registry.example.com, redis://:pass@host. Only the password is
// replaced, so the URL still reads as one.

// authorityEnd returns where the URL authority that contains s[i] ends.
func authorityEnd(s string, i int) int {
	if j := strings.IndexAny(s[i:], "/?# \t\n\r\f\v"); j >= 0 {
		return i + j
	}
	return len(s)
}

// findURLPasswords replaces the password of every URL with userinfo,
// scheme://user:PASSWORD@host, any scheme; the password runs from the first
// ':' of the authority to its last '@'.
func findURLPasswords(s string) []span {
	var spans []span
	for i := strings.Index(s, "://"); i >= 0; {
		if hasSchemeLetter(s, i) {
			auth := s[i+3 : authorityEnd(s, i+3)]
			colon := strings.IndexByte(auth, ':')
			at := strings.LastIndexByte(auth, '@')
			if colon >= 0 && at > colon+1 && !strings.ContainsAny(auth[:colon], "[]") {
				start, end := i+3+colon+1, i+3+at
				if s[start:end] != tokURLPassword {
					spans = append(spans, span{start, end, tokURLPassword})
				}
			}
		}
		j := strings.Index(s[i+3:], "://")
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return spans
}

func isSchemeChar(c byte) bool { return isAlnum(c) || c == '+' || c == '.' || c == '-' }

// hasSchemeLetter reports whether "://" at s[i] follows a scheme: a run of
// [A-Za-z0-9+.-] that has a letter (a scheme starts with one).
func hasSchemeLetter(s string, i int) bool {
	for j := i - 1; j >= 0 && isSchemeChar(s[j]); j-- {
		if isAlnum(s[j]) && !isDigit(s[j]) {
			return true
		}
	}
	return false
}
