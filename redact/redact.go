// Package redact removes PII and secrets from audit-log metadata before it is
// persisted, and anonymizes client IP addresses.
//
// Two rules apply to metadata. The key-name rule replaces every value stored
// under a key that names a secret (password, token, api_key, ...) or an
// environment variable's value with [Redacted], keeping the key and the shape
// of the value so a diff still shows that something changed. The value-pattern
// rule scans every string for well-known secrets and PII (private keys, JWTs,
// provider keys, e-mail addresses, card numbers, CPF/CNPJ, phone numbers, ...)
// and replaces each match with "[REDACTED:<kind>]"; IP addresses are replaced
// by their anonymized form instead. Inside strings, a value assigned to a
// sensitive key (password=..., "token": "...") is replaced too. Keys and
// numbers get the value patterns like strings: {"cpf": 52998224725} and
// {"ana@example.com": "owner"} hold PII as much as "529.982.247-25" does.
//
// Where the line is. A key-name rule is about what the name denotes, and it
// never looks at the value to let a secret through: under "password" a
// passphrase with spaces ("correct horse battery staple"), a number or a
// policy-looking text is redacted all the same, because no value shape tells
// a password from prose. What the rule does look at is the rest of the name:
// a word after the secret term that names a property of the secret (policy,
// count, length, ttl, expiry, type, name, ...: password_policy,
// token_count, secret_name) or a first word that makes it a flag or a tally
// (has_password, num_secrets) means the value is about the secret, not the
// secret, and it gets the value patterns only, which still catch any
// recognisable secret or PII in it. Likewise the name of a variable
// ({"name": "DATABASE_PASSWORD", "value": ...}, a bare "HOME" in a Docker env
// list) is kept while its value is wiped. The value patterns keep to shapes
// that carry their own evidence (check digits, Luhn and issuer prefixes,
// area codes, an "@" with a domain), so numbers that merely look long
// (timestamps, sizes, EANs) pass; bare 10-digit landlines are the accepted
// miss, since they read exactly like Unix timestamps. Loopback and
// unspecified addresses (::1, 127.0.0.1, 0.0.0.0) name a machine, not a
// person, and are kept in text.
//
// Everything here is pure: no I/O, no mutable package state, safe for
// concurrent use, and idempotent (redacting redacted output changes nothing),
// so a value may be redacted by the writer and again by the server.
package redact

// Redacted is the replacement for a value under a sensitive key.
const Redacted = "[REDACTED]"

// Value-pattern kinds, in the order the detectors run.
const (
	kindPrivateKey   = "private_key"
	kindURLPassword  = "url_password"
	kindBearerToken  = "bearer_token"
	kindBasicAuth    = "basic_auth"
	kindJWT          = "jwt"
	kindAWSAccessKey = "aws_access_key"
	kindGitHubToken  = "github_token"
	kindSlackWebhook = "slack_webhook"
	kindSlackToken   = "slack_token"
	kindAPIKey       = "api_key"
	kindSecret       = "secret"
	kindEmail        = "email"
	kindCNPJ         = "cnpj"
	kindCPF          = "cpf"
	kindCard         = "card"
	kindPhone        = "phone"
	kindIP           = "ip"
)

// Kinds lists the value-pattern kinds in the order they are applied; every kind
// but "ip" appears in output as "[REDACTED:<kind>]", while IP addresses are
// replaced by their anonymized form.
func Kinds() []string {
	return []string{
		kindPrivateKey, kindURLPassword, kindBearerToken, kindBasicAuth,
		kindJWT, kindAWSAccessKey, kindGitHubToken, kindSlackWebhook,
		kindSlackToken, kindAPIKey, kindSecret, kindEmail, kindCNPJ, kindCPF, kindCard,
		kindPhone, kindIP,
	}
}

// Replacement tokens, "[REDACTED:<kind>]".
const (
	tokPrivateKey   = "[REDACTED:" + kindPrivateKey + "]"
	tokURLPassword  = "[REDACTED:" + kindURLPassword + "]"
	tokBearerToken  = "[REDACTED:" + kindBearerToken + "]"
	tokBasicAuth    = "[REDACTED:" + kindBasicAuth + "]"
	tokJWT          = "[REDACTED:" + kindJWT + "]"
	tokAWSAccessKey = "[REDACTED:" + kindAWSAccessKey + "]"
	tokGitHubToken  = "[REDACTED:" + kindGitHubToken + "]"
	tokSlackWebhook = "[REDACTED:" + kindSlackWebhook + "]"
	tokSlackToken   = "[REDACTED:" + kindSlackToken + "]"
	tokAPIKey       = "[REDACTED:" + kindAPIKey + "]"
	tokSecret       = "[REDACTED:" + kindSecret + "]"
	tokEmail        = "[REDACTED:" + kindEmail + "]"
	tokCNPJ         = "[REDACTED:" + kindCNPJ + "]"
	tokCPF          = "[REDACTED:" + kindCPF + "]"
	tokCard         = "[REDACTED:" + kindCard + "]"
	tokPhone        = "[REDACTED:" + kindPhone + "]"
)
