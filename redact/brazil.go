package redact

// Brazilian tax ids (LGPD): CPF, ddd.ddd.ddd-dd or 11 bare digits, and CNPJ,
// dd.ddd.ddd/dddd-dd or 14 bare digits, each with two mod-11 check digits.
// Hand-written scanners: most strings carry digits, and a regexp costs more
// than the whole scan.

const (
	shapeCPF  = "ddd.ddd.ddd-dd"
	shapeCNPJ = "dd.ddd.ddd/dddd-dd"
)

// matchShape reports whether s[i:] starts with shape, where 'd' in shape is
// any ASCII digit and other bytes match themselves.
func matchShape(s string, i int, shape string) bool {
	if len(s)-i < len(shape) {
		return false
	}
	for j := 0; j < len(shape); j++ {
		c := s[i+j]
		if shape[j] == 'd' {
			if !isDigit(c) {
				return false
			}
		} else if c != shape[j] {
			return false
		}
	}
	return true
}

// findTaxIDs finds the ids of one shape (formatted or bare with n digits)
// that stand alone and pass check.
func findTaxIDs(s, shape string, n int, tok string, check func([]byte) bool) []span {
	var spans []span
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		run := i
		for run < len(s) && isDigit(s[run]) {
			run++
		}
		end := -1
		switch {
		case run-i == n:
			end = run
		case matchShape(s, i, shape):
			end = i + len(shape)
		}
		if end > 0 && standalone(s, i, end) {
			var buf [14]byte
			if check(digitsOf(buf[:0], s[i:end])) {
				spans = append(spans, span{i, end, tok})
				i = end
				continue
			}
		}
		i = run
	}
	return spans
}

func findCPFs(s string) []span  { return findTaxIDs(s, shapeCPF, 11, tokCPF, validCPF) }
func findCNPJs(s string) []span { return findTaxIDs(s, shapeCNPJ, 14, tokCNPJ, validCNPJ) }

// validCPF checks the two CPF check digits (mod 11, weights 10..2 and 11..2).
func validCPF(d []byte) bool {
	if len(d) != 11 || allEqual(d) {
		return false
	}
	for n := 9; n <= 10; n++ {
		sum := 0
		for i := 0; i < n; i++ {
			sum += int(d[i]) * (n + 1 - i)
		}
		r := sum * 10 % 11
		if r == 10 {
			r = 0
		}
		if int(d[n]) != r {
			return false
		}
	}
	return true
}

// validCNPJ checks the two CNPJ check digits (mod 11, weights 2..9 cycling).
func validCNPJ(d []byte) bool {
	if len(d) != 14 || allEqual(d) {
		return false
	}
	for n := 12; n <= 13; n++ {
		sum, w := 0, n-7 // weights 5,4,3,2,9,...,2 for n=12; 6,5,...,2 for n=13
		for i := 0; i < n; i++ {
			sum += int(d[i]) * w
			if w--; w < 2 {
				w = 9
			}
		}
		r := sum % 11
		if r < 2 {
			r = 0
		} else {
			r = 11 - r
		}
		if int(d[n]) != r {
			return false
		}
	}
	return true
}

func allEqual(d []byte) bool {
	for _, x := range d[1:] {
		if x != d[0] {
			return false
		}
	}
	return true
}
