package redact

import (
	"math"
	"strconv"
	"strings"
)

// Numbers are checked like strings: {"cpf": 52998224725}, {"card":
// 4111111111111111} and {"phone": 11987654321} hold PII as much as their
// quoted forms. Every numeric kind has at least 11 digits (a CPF, a bare
// mobile phone) or 13 (a card), so shorter numbers are not scanned.

// minNumberDigits is the fewest digits a number needs to be scanned.
const minNumberDigits = 10

// redactNumber returns the redaction of a number's text (a JSON literal or
// a Go number formatted in decimal) when the value patterns change it. The
// sign is not part of an id, and a literal written with a fraction or an
// exponent (5.2998224725e10, 11987654321.0) is also checked as the integer
// it denotes.
func redactNumber(text string) (string, bool) {
	t := strings.TrimPrefix(text, "-")
	digits := 0
	for i := 0; i < len(t); i++ {
		if isDigit(t[i]) {
			digits++
		} else if t[i] == 'e' || t[i] == 'E' {
			break
		}
	}
	if digits < minNumberDigits {
		return "", false
	}
	if r := String(t); r != t {
		return r, true
	}
	if d, ok := integerDigits(t); ok && d != t {
		if r := String(d); r != d {
			return r, true
		}
	}
	return "", false
}

// maxIntegerDigits bounds the integers integerDigits expands (a card has 19).
const maxIntegerDigits = 24

// integerDigits returns the decimal digits of the unsigned JSON number t when
// it denotes an integer of at most maxIntegerDigits digits.
func integerDigits(t string) (string, bool) {
	mant, exp := t, 0
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		e, err := strconv.Atoi(strings.TrimPrefix(t[i+1:], "+"))
		if err != nil || e > maxIntegerDigits || e < -maxIntegerDigits {
			return "", false
		}
		mant, exp = t[:i], e
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := whole + frac
	exp -= len(frac)
	for exp < 0 && strings.HasSuffix(digits, "0") {
		digits, exp = digits[:len(digits)-1], exp+1
	}
	if exp < 0 {
		return "", false // a fraction
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" || len(digits)+exp > maxIntegerDigits {
		return "", false
	}
	return digits + strings.Repeat("0", exp), true
}

// appendNumber appends the decimal form of a Go integer or float to dst;
// false for NaN, infinities and floats too large to be an id.
func appendNumber(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int16, int8, uint8, uint16:
		return dst, false // too small for any numeric kind
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case float64:
		return appendFloat(dst, x, 64)
	case float32:
		return appendFloat(dst, float64(x), 32)
	}
	return dst, false
}

func appendFloat(dst []byte, f float64, bits int) ([]byte, bool) {
	if math.IsNaN(f) || math.Abs(f) >= 1e24 || math.IsInf(f, 0) {
		return dst, false
	}
	return strconv.AppendFloat(dst, f, 'f', -1, bits), true
}
