package redact

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxPasses bounds String's fixpoint loop. A replacement can put a token next
// to text that used to be glued to the match (e.g. "a@b.co4111..." only shows a
// card once the e-mail is gone), so String runs the detectors until nothing
// changes; in practice the second pass is the last.
const maxPasses = 8

// String returns s with every sensitive value pattern replaced (see below).
//
// Each match becomes "[REDACTED:<kind>]" (see Kinds), except IP addresses,
// which are replaced by their anonymized form (see IP). String is idempotent.
func String(s string) string {
	for range maxPasses {
		t := redactPass(s)
		if t == s {
			return s
		}
		s = t
	}
	return s
}

// Detect returns the kind of the first value pattern found in s (see Kinds),
// without saying where: String(s) differs from s exactly when Detect finds
// one. It is how a field that must not hold PII at all (an actor id) is
// checked; "ip" means an address that anonymization would change.
func Detect(s string) (kind string, found bool) {
	f := scanFeatures(s)
	for i := range detectors {
		d := &detectors[i]
		if d.maybe(s, f) && len(d.find(s)) > 0 {
			return d.kind, true
		}
	}
	return "", false
}

// span is one replacement: s[start:end] becomes repl.
type span struct {
	start, end int
	repl       string
}

// detector finds the matches of one kind. maybe is a cheap prefilter that
// rules out strings that cannot match before any regexp runs.
type detector struct {
	kind  string
	maybe func(s string, f features) bool
	find  func(s string) []span
}

// detectors run in this order; a later one sees the earlier ones' output.
// Private keys go first (their body matches many other patterns), CPF and
// CNPJ before cards and phones, IPv6 before IPv4 (::ffff:1.2.3.4).
var detectors = [...]detector{
	{kindPrivateKey, func(s string, f features) bool { return f.upper >= 14 && strings.Contains(s, "PRIVATE KEY") }, findRegexp(rePrivateKey, tokPrivateKey, nil)},
	{kindURLPassword, func(s string, f features) bool { return f.at && f.colons > 0 && strings.Contains(s, "://") }, findURLPasswords},
	{kindBearerToken, func(s string, f features) bool { return f.space && containsFold(s, "bearer") }, findRegexp(reBearer, tokBearerToken, validBearer)},
	{kindBasicAuth, func(s string, f features) bool { return f.space && containsFold(s, "basic") }, findRegexp(reBasic, tokBasicAuth, validBasic)},
	{kindJWT, func(s string, f features) bool { return f.dots >= 2 && strings.Contains(s, "eyJ") }, findRegexp(reJWT, tokJWT, nil)},
	{kindAWSAccessKey, func(s string, f features) bool { return f.upper >= 4 && hasAWSPrefix(s) }, findRegexp(reAWS, tokAWSAccessKey, nil)},
	{kindGitHubToken, func(s string, f features) bool { return f.under && hasGitHubPrefix(s) }, findRegexp(reGitHub, tokGitHubToken, nil)},
	{kindSlackWebhook, func(s string, f features) bool { return f.dots >= 2 && strings.Contains(s, "hooks.slack.com/") }, findSlackWebhooks},
	{kindSlackToken, func(s string, f features) bool {
		return f.dash && (strings.Contains(s, "xox") || strings.Contains(s, "xapp-"))
	}, findRegexp(reSlack, tokSlackToken, nil)},
	{kindAPIKey, func(s string, f features) bool { return hasAPIKeyPrefix(s, f) }, findRegexp(reAPIKey, tokAPIKey, nil)},
	{kindSecret, func(s string, f features) bool { return f.eq || f.colons > 0 && f.quote }, findAssignments},
	{kindEmail, func(s string, f features) bool { return f.at && f.dots > 0 }, findEmails},
	{kindCNPJ, func(s string, f features) bool { return f.grouped >= 14 }, findCNPJs},
	{kindCPF, func(s string, f features) bool { return f.grouped >= 11 }, findCPFs},
	{kindCard, func(s string, f features) bool { return f.grouped >= 13 }, findCards},
	{kindPhone, func(s string, f features) bool { return f.plus || f.paren || f.grouped >= 10 }, findPhones},
	{kindIP, func(s string, f features) bool { return f.colons >= 2 }, findIPv6},
	{kindIP, func(s string, f features) bool { return f.dots >= 3 && f.grouped >= 4 }, findIPv4},
}

var (
	rePrivateKey = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)`)
	reBearer     = regexp.MustCompile(`(?i)\bbearer[ \t]+([A-Za-z0-9._~+/=-]{8,})`)
	reBasic      = regexp.MustCompile(`(?i)\bbasic[ \t]+([A-Za-z0-9+/]{4,}={0,2})`)
	reJWT        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
	reAWS        = regexp.MustCompile(`\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b`)
	reGitHub     = regexp.MustCompile(`(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}`)
	reSlackHook  = regexp.MustCompile(`hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/-]+)`)
	reSlack      = regexp.MustCompile(`xox[abposr]-[A-Za-z0-9-]{10,}|xapp-[A-Za-z0-9-]{10,}`)
	reAPIKey     = regexp.MustCompile(`[a-z]{2,8}_(?:live|test)_[A-Za-z0-9]{12,}|al[uw]_[a-z0-9]+_[a-z0-9]{20,}|AIza[0-9A-Za-z_-]{35}`)
)

// redactPass runs every detector once over s.
func redactPass(s string) string {
	f := scanFeatures(s)
	for i := range detectors {
		d := &detectors[i]
		if !d.maybe(s, f) {
			continue
		}
		if spans := d.find(s); len(spans) > 0 {
			s = splice(s, spans)
			f = scanFeatures(s)
		}
	}
	return s
}

// splice applies non-overlapping spans, sorted by start, to s.
func splice(s string, spans []span) string {
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(sp.repl)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// findRegexp returns a finder that replaces each match of re accepted by valid
// (nil accepts all) with tok.
func findRegexp(re *regexp.Regexp, tok string, valid func(s string, loc []int) bool) func(string) []span {
	return func(s string) []span {
		var spans []span
		for _, loc := range re.FindAllStringSubmatchIndex(s, -1) {
			if valid == nil || valid(s, loc) {
				spans = append(spans, span{loc[0], loc[1], tok})
			}
		}
		return spans
	}
}

// validBearer rejects prose ("the bearer credentials", "Bearer
// Authentication"): a token is long, or has a digit, a symbol, or an upper
// case letter after its first character.
func validBearer(s string, loc []int) bool {
	tok := s[loc[2]:loc[3]]
	if len(tok) >= 20 || strings.ContainsAny(tok, "0123456789._~+/=-") {
		return true
	}
	for i := 1; i < len(tok); i++ {
		if 'A' <= tok[i] && tok[i] <= 'Z' {
			return true
		}
	}
	return false
}

// validBasic accepts "Basic <base64>" only when the payload decodes to printable
// "user:password" text, which rules out prose such as "basic authentication".
func validBasic(s string, loc []int) bool {
	b64 := s[loc[2]:loc[3]]
	enc := base64.StdEncoding
	if !strings.HasSuffix(b64, "=") && len(b64)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	raw, err := enc.DecodeString(b64)
	if err != nil || bytes.IndexByte(raw, ':') < 0 || !utf8.Valid(raw) {
		return false
	}
	for _, c := range raw {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// findSlackWebhooks replaces the secret path of a Slack webhook URL.
func findSlackWebhooks(s string) []span {
	var spans []span
	for _, loc := range reSlackHook.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, span{loc[2], loc[3], tokSlackWebhook})
	}
	return spans
}

// features are cheap facts about a string that let detectors skip it.
type features struct {
	digits, dots, colons, upper int
	// grouped is the most digits in one run of digits joined by single
	// ' ', '-', '.' or '/' (4111 1111 1111 1111, 529.982.247-25, 10.0.0.1):
	// every numeric kind needs such a run, timestamps and versions are short.
	grouped                             int
	at, dash, plus, paren, space, under bool
	eq, quote                           bool
}

// Byte classes for scanFeatures; 0 is everything without a feature.
const (
	bOther = iota
	bDigit
	bUpper
	bDot
	bColon
	bAt
	bDash
	bPlus
	bParen
	bSpace
	bUnder
	bSlash
	bEq
	bQuote
)

// byteClass maps each byte to its class; it is never written after init.
var byteClass = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = bDigit
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = bUpper
	}
	t['.'], t[':'], t['@'], t['-'], t['+'] = bDot, bColon, bAt, bDash, bPlus
	t['('], t[' '], t['\t'], t['_'], t['/'] = bParen, bSpace, bSpace, bUnder, bSlash
	t['='], t['"'] = bEq, bQuote
	return t
}()

func scanFeatures(s string) features {
	var f features
	cur := 0      // digits in the current grouped run
	prev := false // the previous byte was a digit
	for i := 0; i < len(s); i++ {
		switch byteClass[s[i]] {
		case bOther:
			cur, prev = 0, false
			continue
		case bDigit:
			f.digits++
			if cur++; cur > f.grouped {
				f.grouped = cur
			}
			prev = true
			continue
		case bUpper:
			f.upper++
			cur = 0
		case bDot:
			f.dots++
			if !prev {
				cur = 0
			}
		case bColon:
			f.colons++
			cur = 0
		case bAt:
			f.at = true
			cur = 0
		case bDash:
			f.dash = true
			if !prev {
				cur = 0
			}
		case bPlus:
			f.plus = true
			cur = 0
		case bParen:
			f.paren = true
			cur = 0
		case bSpace:
			f.space = true
			if !prev || s[i] != ' ' {
				cur = 0
			}
		case bUnder:
			f.under = true
			cur = 0
		case bSlash:
			if !prev {
				cur = 0
			}
		case bEq:
			f.eq = true
			cur = 0
		case bQuote:
			f.quote = true
			cur = 0
		}
		prev = false
	}
	return f
}

// containsFold reports whether s contains the lowercase ASCII word sub,
// ignoring ASCII case.
func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i]|0x20 != sub[0] {
			continue
		}
		j := 1
		for j < len(sub) && s[i+j]|0x20 == sub[j] {
			j++
		}
		if j == len(sub) {
			return true
		}
	}
	return false
}

func hasAWSPrefix(s string) bool {
	for i := strings.IndexByte(s, 'A'); i >= 0 && i+4 <= len(s); {
		switch s[i : i+4] {
		case "AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA":
			return true
		}
		j := strings.IndexByte(s[i+1:], 'A')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func hasGitHubPrefix(s string) bool {
	if strings.Contains(s, "github_pat_") {
		return true
	}
	for i := strings.Index(s, "gh"); i >= 0; {
		rest := s[i:]
		if len(rest) >= 4 && rest[3] == '_' && strings.IndexByte("pousr", rest[2]) >= 0 {
			return true
		}
		j := strings.Index(rest[1:], "gh")
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

func hasAPIKeyPrefix(s string, f features) bool {
	if f.under && (strings.Contains(s, "_live_") || strings.Contains(s, "_test_") ||
		strings.Contains(s, "alu_") || strings.Contains(s, "alw_")) {
		return true
	}
	return f.upper > 0 && strings.Contains(s, "AIza")
}
