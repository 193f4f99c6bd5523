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
// X-Api-Key and API_KEY all read api_key). It is sensitive if it contains
// password, passwd, passphrase, api_key, apikey, private_key, privatekey,
// client_secret, access_key, accesskey, authorization or credential, or if one
// of its words is secret, secrets, token, cookie, cookies or pwd; so
// github_token and AWS_SECRET_ACCESS_KEY are, max_tokens and secretary are not.
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
	c := keyClass{sensitive: hasSensitiveSubstring(n) || hasSensitiveWord(n)}
	switch n {
	case "env", "envs", "environment", "env_vars", "envvars", "env_variables",
		"environment_variables", "environment_vars", "variables":
		c.envContainer = true
	case "value", "old_value", "new_value", "previous_value", "values":
		c.envValue = true
	}
	return c
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

// hasSensitiveSubstring reports whether the normalized key contains password,
// passwd, passphrase, api_key, apikey, private_key, privatekey, client_secret,
// access_key, accesskey, authorization or credential, in one pass.
func hasSensitiveSubstring(n string) bool {
	for i := 0; i < len(n); i++ {
		rest := n[i:]
		switch n[i] {
		case 'p':
			if strings.HasPrefix(rest, "passw") || strings.HasPrefix(rest, "passphrase") ||
				strings.HasPrefix(rest, "private_key") || strings.HasPrefix(rest, "privatekey") {
				return true
			}
		case 'a':
			if strings.HasPrefix(rest, "api_key") || strings.HasPrefix(rest, "apikey") ||
				strings.HasPrefix(rest, "access_key") || strings.HasPrefix(rest, "accesskey") ||
				strings.HasPrefix(rest, "authorization") {
				return true
			}
		case 'c':
			if strings.HasPrefix(rest, "client_secret") || strings.HasPrefix(rest, "credential") {
				return true
			}
		}
	}
	return false
}

// hasSensitiveWord reports whether one of the _-separated words of the
// normalized key is secret, secrets, token, cookie, cookies or pwd.
func hasSensitiveWord(n string) bool {
	for start := 0; start < len(n); {
		end := strings.IndexByte(n[start:], '_')
		if end < 0 {
			end = len(n)
		} else {
			end += start
		}
		switch n[start:end] {
		case "secret", "secrets", "token", "cookie", "cookies", "pwd":
			return true
		}
		start = end + 1
	}
	return false
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
