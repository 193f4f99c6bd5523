package redact

import "strings"

// Phone numbers: international "+<country> ..." (8-15 digits, separated by
// spaces, dots, dashes or parentheses), "(11) 91234-5678", "(555) 123-4567",
// "555-123-4567", "555.123.4567", "11 91234-5678", "11 9 1234-5678" and
// "11 91234 5678", and Brazilian mobile numbers written as bare digits with a
// real area code: 11912345678, 011912345678, 5511912345678. Bare landlines
// (10 digits) are not matched: they read like Unix timestamps (1734567890).
// Hand-written: nearly every string has digits and dashes (dates, versions,
// UUIDs), and each candidate is decided from a few bytes.

// findPhones finds the phone numbers in s that stand alone.
func findPhones(s string) []span {
	var spans []span
	for i := 0; i < len(s); {
		end := -1
		switch c := s[i]; {
		case c == '+':
			end = matchIntlPhone(s, i)
		case c == '(':
			end = matchParenPhone(s, i)
		case isDigit(c) && !isDigit(before(s, i)):
			end = matchNationalPhone(s, i)
		}
		if end > i && validPhone(s, i, end) {
			spans = append(spans, span{i, end, tokPhone})
			i = end
			continue
		}
		i++
	}
	return spans
}

// digitRun returns the end of the run of digits starting at s[i:].
func digitRun(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// matchIntlPhone matches "+" and 8-15 digits in groups separated by at most
// two of " .()-"; it returns the end of the last digit or -1.
func matchIntlPhone(s string, i int) int {
	if !isDigit(after(s, i+1)) {
		return -1
	}
	j, end, digits := i+1, -1, 0
	for j < len(s) {
		k := digitRun(s, j)
		digits += k - j
		end = k
		sep := k
		for sep < len(s) && sep-k < 3 && strings.IndexByte(" .()-", s[sep]) >= 0 {
			sep++
		}
		if sep == k || sep-k > 2 || !isDigit(after(s, sep)) {
			break
		}
		j = sep
	}
	if digits < 8 || digits > 15 {
		return -1
	}
	return end
}

// matchParenPhone matches (dd) or (ddd), an optional space and "9 ", then
// 3-5 digits, an optional separator and 4 digits (or 7-9 digits at once).
func matchParenPhone(s string, i int) int {
	j := digitRun(s, i+1)
	if n := j - i - 1; n < 2 || n > 3 || after(s, j) != ')' {
		return -1
	}
	j++
	if after(s, j) == ' ' {
		j++
	}
	if matchShape(s, j, "9 d") {
		j += 2
	}
	return matchLocal(s, j, 3, 5)
}

// matchLocal matches min-max digits, an optional " ", "." or "-", and 4
// digits, or min+4 to max+4 digits without a separator.
func matchLocal(s string, i, minDigits, maxDigits int) int {
	j := digitRun(s, i)
	n := j - i
	if minDigits+4 <= n && n <= maxDigits+4 {
		return j
	}
	if n < minDigits || n > maxDigits || j >= len(s) || strings.IndexByte(" .-", s[j]) < 0 {
		return -1
	}
	if k := digitRun(s, j+1); k-j-1 == 4 {
		return k
	}
	return -1
}

// matchNationalPhone matches 555-123-4567, 555.123.4567, 11 91234-5678 /
// 11 3456-7890 / 11 9 1234-5678 / 11 91234 5678 and bare Brazilian mobile
// numbers at s[i:].
func matchNationalPhone(s string, i int) int {
	switch {
	case after(s, i+2) == ' ':
		switch {
		case matchShape(s, i, "dd 9dddd-dddd"), matchShape(s, i, "dd 9dddd dddd"):
			return i + 13
		case matchShape(s, i, "dd 9 dddd-dddd"), matchShape(s, i, "dd 9 dddd dddd"):
			return i + 14
		case matchShape(s, i, "dd dddd-dddd"):
			return i + 12
		}
	case after(s, i+3) == '-' || after(s, i+3) == '.':
		if matchShape(s, i, "ddd-ddd-dddd") || matchShape(s, i, "ddd.ddd.dddd") {
			return i + 12
		}
	default:
		return matchBareMobile(s, i)
	}
	return -1
}

// matchBareMobile matches a Brazilian mobile number written as bare digits:
// an area code, 9 and 8 digits, optionally after the trunk prefix 0 or the
// country code 55 (11912345678, 011912345678, 5511912345678).
func matchBareMobile(s string, i int) int {
	end := digitRun(s, i)
	d := s[i:end]
	switch len(d) {
	case 12:
		if d[0] != '0' {
			return -1
		}
		d = d[1:]
	case 13:
		if d[:2] != "55" {
			return -1
		}
		d = d[2:]
	case 11:
	default:
		return -1
	}
	if d[2] != '9' || !areaCode(d[:2]) {
		return -1
	}
	return end
}

// areaCode reports whether the two digits are a Brazilian area code (DDD).
func areaCode(dd string) bool {
	switch dd[0] {
	case '1', '4', '6', '8', '9':
		return dd[1] != '0'
	case '2':
		return strings.IndexByte("12478", dd[1]) >= 0
	case '3':
		return strings.IndexByte("1234578", dd[1]) >= 0
	case '5':
		return strings.IndexByte("1345", dd[1]) >= 0
	case '7':
		return strings.IndexByte("134579", dd[1]) >= 0
	}
	return false
}

// validPhone keeps phone matches that stand alone: not inside a longer number,
// dotted/dashed run or word, and with balanced parentheses.
func validPhone(s string, start, end int) bool {
	switch b := before(s, start); {
	case isAlnum(b), b == '_', b == '.', b == '-', b == '/', b == '+':
		return false
	}
	switch a := after(s, end); {
	case isAlnum(a), a == '_':
		return false
	case a == '.' || a == '-' || a == ':' || a == '/' || a == ',':
		if isDigit(after(s, end+1)) {
			return false
		}
	}
	m := s[start:end]
	open, closed := strings.Count(m, "("), strings.Count(m, ")")
	if open != closed || open > 1 || open == 1 && strings.Index(m, "(") > strings.Index(m, ")") {
		return false
	}
	return true
}
