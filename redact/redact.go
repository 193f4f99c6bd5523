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
// sensitive key (password=..., "token": "...") is replaced too.
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
