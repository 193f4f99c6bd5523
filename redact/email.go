package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// E-mail addresses, local@domain.tld: the local part of [A-Za-z0-9._%+-] and
// letters or digits of any script (josé@exemplo.com.br), domain labels of
// letters, digits and "-" (not starting or ending with "-", IDNs included),
// and a TLD that starts with at least two letters. Hand-written: '@' is
// common in benign values (image digests, npm scopes, URLs) and a regexp
// would cost more than the scan.

func isLocalChar(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// isIntlAlnum reports whether r, outside ASCII, is a letter, a digit or a
// combining mark (the accent of a decomposed é).
func isIntlAlnum(r rune) bool {
	return r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r))
}

// findEmails finds the e-mail addresses in s.
func findEmails(s string) []span {
	var spans []span
	last := 0 // a local part never reaches back into the previous match
	for at := strings.IndexByte(s, '@'); at >= 0; {
		start := localStart(s, at, last)
		next := at + 1
		if end := domainEnd(s, at+1); start < at && end > 0 && validEmail(s, start, at, end) {
			spans = append(spans, span{start, end, tokEmail})
			last, next = end, end
		}
		j := strings.IndexByte(s[next:], '@')
		if j < 0 {
			break
		}
		at = next + j
	}
	return spans
}

// localStart returns where the local part that ends at s[at] starts, not
// before last.
func localStart(s string, at, last int) int {
	start := at
	for start > last {
		if c := s[start-1]; c < utf8.RuneSelf {
			if !isLocalChar(c) {
				break
			}
			start--
			continue
		}
		r, size := utf8.DecodeLastRuneInString(s[last:start])
		if !isIntlAlnum(r) {
			break
		}
		start -= size
	}
	return start
}

// labelChar returns the size of the domain-label character (letter, digit or
// "-") at s[i], and whether it is a letter; 0 if there is none.
func labelChar(s string, i int) (size int, letter bool) {
	if i >= len(s) {
		return 0, false
	}
	if c := s[i]; c < utf8.RuneSelf {
		switch {
		case 'a' <= c|0x20 && c|0x20 <= 'z':
			return 1, true
		case isDigit(c) || c == '-':
			return 1, false
		}
		return 0, false
	}
	r, size := utf8.DecodeRuneInString(s[i:])
	if !isIntlAlnum(r) {
		return 0, false
	}
	return size, unicode.IsLetter(r)
}

// domainEnd returns the end of the domain starting at s[i:]: after the
// letters of the last label (not the first) that starts with two letters,
// all labels before it being valid; -1 if there is none.
func domainEnd(s string, i int) int {
	best := -1
	for label := 0; ; label++ {
		k, letters, inLetters := i, i, true
		for {
			size, letter := labelChar(s, k)
			if size == 0 {
				break
			}
			if inLetters && letter {
				letters = k + size
			} else {
				inLetters = false
			}
			k += size
		}
		if label > 0 && utf8.RuneCountInString(s[i:letters]) >= 2 {
			best = letters
		}
		if k == i || s[i] == '-' || s[k-1] == '-' || k >= len(s) || s[k] != '.' {
			return best
		}
		i = k + 1
	}
}

// validEmail skips the SSH form git@host:repo, file names such as
// logo@2x.png, and a URL's user@host (a user
// name followed by the host, not an address); an e-mail used as the user of a
// URL that has a password (scheme://a@b.com:pw@host) is still an address.
func validEmail(s string, start, at, end int) bool {
	if s[start:at] == "git" || fileExtension(s[strings.LastIndexByte(s[:end], '.')+1:end]) {
		return false
	}
	if !strings.HasSuffix(s[:start], "://") {
		return true
	}
	return strings.IndexByte(s[end:authorityEnd(s, end)], '@') >= 0
}

// fileExtension reports whether a TLD is really a file extension that is not
// a TLD, as in logo@2x.png.
func fileExtension(tld string) bool {
	switch strings.ToLower(tld) {
	case "png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "css", "js", "mjs",
		"json", "yaml", "yml", "txt", "html", "htm", "lock", "gz", "tgz", "xml":
		return true
	}
	return false
}
