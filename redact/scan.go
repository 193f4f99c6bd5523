package redact

// Byte-level helpers shared by the hand-written detectors.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlnum(c byte) bool {
	return isDigit(c) || 'a' <= c|0x20 && c|0x20 <= 'z'
}

// before and after return the byte around s[start:end], or 0 at the edges.
func before(s string, start int) byte {
	if start > 0 {
		return s[start-1]
	}
	return 0
}

func after(s string, end int) byte {
	if end < len(s) {
		return s[end]
	}
	return 0
}

// standalone reports whether s[start:end] is not glued to letters or digits.
func standalone(s string, start, end int) bool {
	return !isAlnum(before(s, start)) && !isAlnum(after(s, end))
}

// digitsOf appends the ASCII digits of s to dst.
func digitsOf(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if isDigit(s[i]) {
			dst = append(dst, s[i]-'0')
		}
	}
	return dst
}
