package redact

// findCards finds payment card numbers: 13-19 digits, bare or in groups
// separated by one consistent space, dash or dot (4-4-4-4, 4-6-5, 4-4-4-4-3, ...),
// Luhn-valid, with a real issuer prefix and length, not glued to letters,
// digits or a decimal point.
func findCards(s string) []span {
	var spans []span
	var groups [][2]int // digit groups of the current run
	for i := 0; i < len(s); {
		if !isDigit(s[i]) {
			i++
			continue
		}
		groups = groups[:0]
		j := i
		for {
			k := j
			for k < len(s) && isDigit(s[k]) {
				k++
			}
			groups = append(groups, [2]int{j, k})
			if k+1 < len(s) && (s[k] == ' ' || s[k] == '-' || s[k] == '.') && isDigit(s[k+1]) {
				j = k + 1
				continue
			}
			j = k
			break
		}
		spans = cardsInRun(s, groups, spans)
		i = j
	}
	return spans
}

// cardsInRun looks for cards among consecutive groups of one run, greedily
// from the left, longest first.
func cardsInRun(s string, groups [][2]int, spans []span) []span {
	for a := 0; a < len(groups); a++ {
		// A card is one group of 13-19 digits, or starts with a group of
		// four and spans at most five groups (cardLayout): anything else is
		// skipped at once, so a long run costs a constant per group.
		if n := groups[a][1] - groups[a][0]; n != 4 && (n < 13 || n > 19) {
			continue
		}
		for b := min(len(groups)-1, a+4); b >= a; b-- {
			start, end := groups[a][0], groups[b][1]
			if !cardLayout(s, groups[a:b+1]) || !cardEdges(s, start, end) {
				continue
			}
			var buf [19]byte
			d := digitsOf(buf[:0], s[start:end])
			// "+" and up to 15 digits is an international phone number.
			if before(s, start) == '+' && len(d) <= 15 {
				continue
			}
			if luhn(d) && cardIIN(d) {
				spans = append(spans, span{start, end, tokCard})
				a = b
				break
			}
		}
	}
	return spans
}

// cardLayout accepts 13-19 bare digits, or groups of four (the last one may be
// shorter) or Amex/Diners 4-6-5 / 4-6-4, all with the same separator.
func cardLayout(s string, groups [][2]int) bool {
	total := 0
	for _, g := range groups {
		total += g[1] - g[0]
	}
	if total < 13 || total > 19 {
		return false
	}
	if len(groups) == 1 {
		return true
	}
	sep := s[groups[0][1]]
	for _, g := range groups[1:] {
		if s[g[0]-1] != sep {
			return false
		}
	}
	if len(groups) == 3 && groups[0][1]-groups[0][0] == 4 && groups[1][1]-groups[1][0] == 6 {
		return true // 4-6-5 or 4-6-4
	}
	for i, g := range groups {
		n := g[1] - g[0]
		if n != 4 && (i < len(groups)-1 || n > 4) {
			return false
		}
	}
	return true
}

// cardEdges rejects a candidate glued to a letter, a digit or a decimal point.
func cardEdges(s string, start, end int) bool {
	b, a := before(s, start), after(s, end)
	if isAlnum(b) || isAlnum(a) {
		return false
	}
	if b == '.' && isDigit(before(s, start-1)) || a == '.' && isDigit(after(s, end+1)) {
		return false
	}
	return true
}

// luhn reports whether the digits pass the Luhn checksum.
func luhn(d []byte) bool {
	sum := 0
	for i := range d {
		x := int(d[len(d)-1-i])
		if i%2 == 1 {
			if x *= 2; x > 9 {
				x -= 9
			}
		}
		sum += x
	}
	return sum%10 == 0
}

// cardIIN reports whether d starts with a real issuer prefix and has a length
// that issuer uses.
func cardIIN(d []byte) bool {
	n := len(d)
	p1 := int(d[0])
	p2 := p1*10 + int(d[1])
	p3 := p2*10 + int(d[2])
	p4 := p3*10 + int(d[3])
	switch {
	case p1 == 4: // Visa
		return n == 13 || n == 16 || n == 19
	case 51 <= p2 && p2 <= 55, 2221 <= p4 && p4 <= 2720: // Mastercard
		return n == 16
	case p2 == 34 || p2 == 37: // Amex
		return n == 15
	case p4 == 6011, 644 <= p3 && p3 <= 649, p2 == 65: // Discover
		return 16 <= n && n <= 19
	case 3528 <= p4 && p4 <= 3589: // JCB
		return 16 <= n && n <= 19
	case p2 == 36 || p2 == 38, 300 <= p3 && p3 <= 305: // Diners Club
		return 14 <= n && n <= 16
	}
	return false
}
