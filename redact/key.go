package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// keyClass is what the key-name rules say about one metadata key.
type keyClass struct {
	sensitive    bool // SensitiveKey: the value is a secret
	envContainer bool // the value holds environment variables (env, variables, ...)
	envValue     bool // the value of an environment variable, for env_var.* actions
}

// SensitiveKey reports whether a metadata key names a secret (key-name rule).
//
// The key is normalized first: camelCase and letter/digit boundaries split
// into words, lowercased, every other character folded to "_" (apiKey,
// X-Api-Key and API_KEY all read api_key). It names a secret if it contains
// password, passwd, passphrase, api_key, apikey, private_key, privatekey,
// client_secret, access_key, accesskey, authorization or credential, or if one
// of its words is secret, secrets, token, cookie, cookies or pwd; so
// github_token and AWS_SECRET_ACCESS_KEY are, max_tokens and secretary are not.
//
// Unless the name says its value is something about the secret rather than
// the secret: a word after the last secret term that is a property (policy,
// count, length, ttl, expiry, type, name, ...: password_policy,
// token_count, secret_name, token_expires_at), or a first word that makes it
// a flag or a tally (is, has, num, count, total: has_password). Those values
// are not wiped: they get the value patterns like any other.
func SensitiveKey(key string) bool {
	return classifyKey(key).sensitive
}

// classifyKey normalizes key once and applies every key-name rule to it.
func classifyKey(key string) keyClass {
	n := key
	if !isNormalized(key) {
		var buf [64]byte
		n = string(normalizeKey(buf[:0], key))
	}
	c := keyClass{sensitive: secretName(n)}
	switch n {
	case "env", "envs", "environment", "env_vars", "envvars", "env_variables",
		"environment_variables", "environment_vars", "variables":
		c.envContainer = true
	case "value", "old_value", "new_value", "previous_value", "values":
		c.envValue = true
	}
	return c
}

// secretName reports whether the normalized key n names a secret: it has a
// secret term, no property word after the last one, and no flag or tally word first.
func secretName(n string) bool {
	end := secretTermEnd(n)
	if end < 0 {
		return false
	}
	first, _, _ := strings.Cut(n, "_")
	switch first {
	case "is", "has", "num", "count", "total":
		return false
	}
	for rest := n[end:]; rest != ""; {
		var w string
		w, rest, _ = strings.Cut(strings.TrimPrefix(rest, "_"), "_")
		if describesSecret(w) {
			return false
		}
	}
	return true
}

// describesSecret reports whether a word after a secret term says the value
// is a property of the secret, not the secret: password_policy, token_count.
// A URL is not among them: under a secret's name (secret_url, a webhook's
// capability URL) it may be the secret itself.
func describesSecret(w string) bool {
	switch w {
	case "policy", "policies", "rule", "rules", "requirement", "requirements", "strength", "complexity",
		"count", "counts", "length", "len", "size", "min", "max", "limit", "limits",
		"ttl", "expiry", "expires", "expiration", "expired", "lifetime", "age", "at",
		"rotation", "rotated", "changed", "created", "updated", "issued", "version",
		"type", "kind", "format", "algorithm", "alg", "scheme",
		"name", "names", "domain", "path",
		"enabled", "disabled", "required", "configured":
		return true
	}
	return false
}

// secretTermEnd returns the end of the word that ends the last secret term in
// the normalized key n (password, api_key, token, ...), or -1 if it has none.
func secretTermEnd(n string) int {
	last := -1
	for i := 0; i < len(n); i++ {
		if m := secretTermAt(n[i:]); m > 0 {
			last = max(last, wordEnd(n, i+m))
		}
	}
	for start := 0; start < len(n); {
		end := wordEnd(n, start)
		switch n[start:end] {
		case "secret", "secrets", "token", "cookie", "cookies", "pwd":
			last = max(last, end)
		}
		start = end + 1
	}
	return last
}

// The secret substrings, by first letter.
var (
	termsP = [...]string{"passw", "passphrase", "private_key", "privatekey"}
	termsA = [...]string{"api_key", "apikey", "access_key", "accesskey", "authorization"}
	termsC = [...]string{"client_secret", "credential"}
)

// secretTermAt returns the length of the secret substring rest starts with
// (password, passwd, passphrase, api_key, apikey, private_key, privatekey,
// client_secret, access_key, accesskey, authorization, credential), or 0.
func secretTermAt(rest string) int {
	var terms []string
	switch rest[0] {
	case 'p':
		terms = termsP[:]
	case 'a':
		terms = termsA[:]
	case 'c':
		terms = termsC[:]
	default:
		return 0
	}
	for _, t := range terms {
		if strings.HasPrefix(rest, t) {
			return len(t)
		}
	}
	return 0
}

// wordEnd returns the index of the first "_" at or after i in n, or len(n).
func wordEnd(n string, i int) int {
	if j := strings.IndexByte(n[i:], '_'); j >= 0 {
		return i + j
	}
	return len(n)
}

// isNormalized reports whether normalizeKey would return key unchanged:
// lowercase ASCII words joined by single underscores (the common case).
func isNormalized(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c == '_' {
			if i == 0 || i == len(key)-1 || key[i-1] == '_' {
				return false
			}
		} else if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Character classes used to find word boundaries in keys.
const (
	clsSep = iota
	clsLower
	clsUpper
	clsDigit
)

func runeClass(r rune) int {
	switch {
	case 'a' <= r && r <= 'z':
		return clsLower
	case 'A' <= r && r <= 'Z':
		return clsUpper
	case '0' <= r && r <= '9':
		return clsDigit
	case r < utf8.RuneSelf:
		return clsSep
	case unicode.IsUpper(r):
		return clsUpper
	case unicode.IsLetter(r):
		return clsLower
	case unicode.IsDigit(r):
		return clsDigit
	}
	return clsSep
}

// normalizeKey appends the normalized form of key to dst: words split at
// camelCase and letter/digit boundaries, lowercased, and joined by single
// underscores; every character that is not a letter or digit (`-`, `.`, space,
// `_`, `/`, `:` ...) is a separator. "X-Api-Key" and "apiKey" give "x_api_key"
// and "api_key", "AWS_SECRET_ACCESS_KEY" gives "aws_secret_access_key".
func normalizeKey(dst []byte, key string) []byte {
	prev := clsSep
	for i := 0; i < len(key); {
		r, size := utf8.DecodeRuneInString(key[i:])
		i += size
		c := runeClass(r)
		if c == clsSep {
			prev = clsSep
			continue
		}
		boundary := prev != clsSep && prev != c
		switch {
		case prev == clsLower && c == clsUpper, prev == clsDigit, c == clsDigit:
			// apiKey, token2, 2fa: a word boundary (already set by prev != c).
		case prev == clsUpper && c == clsLower:
			boundary = false // Api: the upper letter starts this word.
		case prev == clsUpper && c == clsUpper:
			// APIKey: the last upper letter before a lower one starts a new word.
			if i < len(key) {
				next, _ := utf8.DecodeRuneInString(key[i:])
				boundary = runeClass(next) == clsLower
			}
		}
		if len(dst) > 0 && (boundary || prev == clsSep) {
			dst = append(dst, '_')
		}
		if r < utf8.RuneSelf {
			if c == clsUpper {
				r += 'a' - 'A'
			}
			dst = append(dst, byte(r))
		} else {
			dst = utf8.AppendRune(dst, unicode.ToLower(r))
		}
		prev = c
	}
	return dst
}
