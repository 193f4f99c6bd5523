package redact_test

import (
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

func TestSensitiveKey(t *testing.T) {
	sensitive := []string{
		"password", "Password", "PASSWORD", "db_password", "registryPassword", "passwd", "keyPassphrase",
		"apiKey", "api_key", "api-key", "X-Api-Key", "APIKey", "APIKEY", "apikey", "x.api.key", "api key",
		"privateKey", "private_key", "PRIVATE-KEY", "ssh_private_key", "privatekey",
		"clientSecret", "client_secret", "CLIENT-SECRET", "secret", "Secret", "secrets", "webhook_secret",
		"AWS_SECRET_ACCESS_KEY", "aws_access_key_id", "accessKey", "accesskey",
		"token", "github_token", "access_token", "refreshToken", "refresh_token", "id-token", "oauth2Token", "password_hint", "token_hash", "reset_password_token", "secret_url", "token_endpoint",
		"authorization", "Authorization", "proxy-authorization",
		"cookie", "Cookie", "set_cookie", "Set-Cookie", "cookies",
		"credentials", "credential", "aws.credentials", "gcpCredentialsJson",
		"pwd", "DB_PWD", "secret2", "k8sSecret",
	}
	for _, k := range sensitive {
		if !redact.SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = false, want true", k)
		}
	}
	benign := []string{
		"max_tokens", "maxTokens", "secretary", "tokenizer", "image", "username", "key", "name", "override",
		"override_preflight", "replicas", "diff", "from", "to", "email", "ip", "user_agent", "schedule",
		"timezone", "registry", "url", "value", "env", "passage", "keyboard", "", "_", "Ñame", "tokens",
		// the name says the value is about the secret, not the secret
		"token_count", "password_policy", "passwordPolicy", "min_password_length", "password_min_length",
		"token_ttl", "tokenExpiresAt", "token_expires_in", "secret_name", "secretName", "cookie_domain",
		"token_type", "api_key_created_at", "password_changed_at", "has_password", "is_token_valid",
		"num_secrets", "secret_rotation_days",
	}
	for _, k := range benign {
		if redact.SensitiveKey(k) {
			t.Errorf("SensitiveKey(%q) = true, want false", k)
		}
	}
}
