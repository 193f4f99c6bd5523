package redact

import "strings"

// Brazilian tax ids (LGPD): CPF, 11 digits in groups of 3-3-3-2, and CNPJ,
// 14 digits in groups of 2-3-3-4-2, each with two mod-11 check digits. The
// groups may be run together or separated by one space, dot, dash or slash
// each: 529.982.247-25, 529 982 247 25, 529982247-25, 52998224725,
// 11.222.333/0001-81, 11 222 333 0001 81. A CPF never ends in ".dd", which
// is the shape of an IPv4 address (192.168.100.10). Hand-written scanners:
// most strings carry digits, and a regexp costs more than the whole scan.

// taxID is the layout of one kind of id: its group sizes, the separators
// allowed before each group after the first, and (bit n set) the lengths its
// first run of digits may have (groups may run together).
type taxID struct {
	groups []int
	seps   []string
	runs   uint32
}

var (
	layoutCPF  = taxID{[]int{3, 3, 3, 2}, []string{" .-", " .-", " -/"}, 1<<3 | 1<<6 | 1<<9 | 1<<11}
	layoutCNPJ = taxID{[]int{2, 3, 3, 4, 2}, []string{" .-", " .-", " .-/", " .-"}, 1<<2 | 1<<5 | 1<<8 | 1<<12 | 1<<14}
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

// matchGroups returns the end of the digit groups of the given sizes at
// s[i:], each after the first optionally preceded by one of its separators,
// or -1.
func matchGroups(s string, i int, groups []int, seps []string) int {
	j := i
	for g, n := range groups {
		if g > 0 && j+1 < len(s) && strings.IndexByte(seps[g-1], s[j]) >= 0 && isDigit(s[j+1]) {
			j++
		}
		if len(s)-j < n {
			return -1
		}
		for end := j + n; j < end; j++ {
			if !isDigit(s[j]) {
				return -1
			}
		}
	}
	return j
}

// findTaxIDs finds the ids of the given layout that stand alone and pass check.
func findTaxIDs(s string, id taxID, tok string, check func([]byte) bool) []span {
	var spans []span
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		run := digitRun(s, i)
		if run-i > 14 || id.runs&(1<<(run-i)) == 0 {
			i = run
			continue
		}
		if end := matchGroups(s, i, id.groups, id.seps); end > 0 && standalone(s, i, end) {
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

func findCPFs(s string) []span  { return findTaxIDs(s, layoutCPF, tokCPF, validCPF) }
func findCNPJs(s string) []span { return findTaxIDs(s, layoutCNPJ, tokCNPJ, validCNPJ) }

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
