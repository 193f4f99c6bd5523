package redact_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/redact"
)

const (
	testJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
	testPEM = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\nVTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n-----END RSA PRIVATE KEY-----"
)

// kindCases are realistic positives for every kind, with their exact output.
var kindCases = []struct {
	kind, in, want string
}{
	{"private_key", testPEM, "[REDACTED:private_key]"},
	{"private_key", "key: " + testPEM + "\nnext line", "key: [REDACTED:private_key]\nnext line"},
	{"private_key", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n", "[REDACTED:private_key]\n"},
	{"private_key", "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49", "[REDACTED:private_key]"},
	{"private_key", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY----- trailing", "[REDACTED:private_key] trailing"},
	{"private_key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\\nMIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQww\\n-----END ENCRYPTED PRIVATE KEY-----", "[REDACTED:private_key]"},

	{"jwt", testJWT, "[REDACTED:jwt]"},
	{"jwt", "session=" + testJWT + "; Path=/", "session=[REDACTED:jwt]; Path=/"},
	{"jwt", "callback?id_token=" + testJWT + "&state=xyz", "callback?id_token=[REDACTED:jwt]&state=xyz"},
	{"jwt", "unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ1c2VyLTEifQ. token", "unsigned [REDACTED:jwt] token"},

	{"bearer_token", "Authorization: Bearer " + testJWT, "Authorization: [REDACTED:bearer_token]"},
	{"bearer_token", "curl -H 'Authorization: Bearer alu_x7_k29fj38dk29dj38dk2' ", "curl -H 'Authorization: [REDACTED:bearer_token]' "},
	{"bearer_token", "bearer 0123456789abcdef", "[REDACTED:bearer_token]"},
	{"bearer_token", "BEARER ya29.a0AfH6SMBx3-kQnUx8vJzN_w", "[REDACTED:bearer_token]"},
	{"bearer_token", "upstream said: bearer SomeOpaqueTok rejected", "upstream said: [REDACTED:bearer_token] rejected"},
	{"basic_auth", "Authorization: Basic ZGVwbG95Omh1bnRlcjI=", "Authorization: [REDACTED:basic_auth]"},
	{"basic_auth", "basic YWRtaW46czNjcjN0", "[REDACTED:basic_auth]"},

	{"url_password", "postgres://user:PASSWORD@host:5432/db", "postgres://user:[REDACTED:url_password]@host:5432/db"},
	{"url_password", "https://u:p@registry.example.com", "https://u:[REDACTED:url_password]@registry.example.com"},
	{"url_password", "redis://:pass@host", "redis://:[REDACTED:url_password]@host"},
	{"url_password", "mongodb+srv://app:p@ss:w0rd@cluster0.mongodb.net/prod?retryWrites=true", "mongodb+srv://app:[REDACTED:url_password]@cluster0.mongodb.net/prod?retryWrites=true"},
	{"url_password", "DATABASE_URL=mysql://root:s3cr3t@db-1.us-east-1.rds.amazonaws.com:3306/app", "DATABASE_URL=mysql://root:[REDACTED:url_password]@db-1.us-east-1.rds.amazonaws.com:3306/app"},
	{"url_password", "amqp://guest:guest@rabbit:5672/ and redis://:hunter2@cache:6379/0", "amqp://guest:[REDACTED:url_password]@rabbit:5672/ and redis://:[REDACTED:url_password]@cache:6379/0"},

	{"aws_access_key", "AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws_access_key]"},
	{"aws_access_key", "aws_access_key_id = ASIAY34FZKBOKMUTVV7A", "aws_access_key_id = [REDACTED:aws_access_key]"},
	{"aws_access_key", "role AROA3XFRBF535PLBIFPI assumed", "role [REDACTED:aws_access_key] assumed"},

	{"github_token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "[REDACTED:github_token]"},
	{"url_password", "git clone https://x-access-token:ghs_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5@github.com/acme/api", "git clone https://x-access-token:[REDACTED:url_password]@github.com/acme/api"},
	{"github_token", "token=ghs_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5", "token=[REDACTED:github_token]"},
	{"github_token", "github_pat_11ABCDEFG0abcdefghijkl_mnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU", "[REDACTED:github_token]"},

	{"slack_token", "xoxb-2345678901-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[REDACTED:slack_token]"},
	{"slack_token", "SLACK_TOKEN=xoxp-1234567890-abcdefghij", "SLACK_TOKEN=[REDACTED:slack_token]"},
	{"slack_webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "https://hooks.slack.com/services/[REDACTED:slack_webhook]"},
	{"slack_webhook", "notify hooks.slack.com/workflows/T01/A02/3456/abc failed", "notify hooks.slack.com/workflows/[REDACTED:slack_webhook] failed"},

	{"api_key", "sk_live_51H8x2eKq9Zb3YtLmNoPqRsTu", "[REDACTED:api_key]"},
	{"api_key", "pk_test_TYooMQauvdEDq54NiTphI7jx", "[REDACTED:api_key]"},
	{"api_key", "key gk_live_9f8e7d6c5b4a3f2e1d0c rotated", "key [REDACTED:api_key] rotated"},
	{"api_key", "alu_k7_ab12cd34ef56gh78ij90kl", "[REDACTED:api_key]"},
	{"api_key", "alw_prod_0123456789abcdefghij", "[REDACTED:api_key]"},
	{"api_key", "maps key AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", "maps key [REDACTED:api_key]"},

	{"secret", "pq: host=db.acme.internal user=app password=hunter2 dbname=app", "pq: host=db.acme.internal user=app password=[REDACTED:secret] dbname=app"},
	{"secret", "GET /callback?code=abc&access_token=opaque-123&state=x", "GET /callback?code=abc&access_token=[REDACTED:secret]&state=x"},
	{"secret", `body {"username":"deploy","password": "hunter 2","otp":null}`, `body {"username":"deploy","password": "[REDACTED:secret]","otp":null}`},
	{"secret", `PGPASSWORD='s3cr3t' psql`, `PGPASSWORD='[REDACTED:secret]' psql`},
	{"basic_auth", "Authorization=Basic dXNlcjpwYXNz", "Authorization=[REDACTED:basic_auth]"},
	{"email", "alice@example.com", "[REDACTED:email]"},
	{"email", "invited maria.silva+ops@acme.com.br to project", "invited [REDACTED:email] to project"},
	{"email", "<bob_o'neil@mail.acme.io>", "<bob_o'[REDACTED:email]>"},
	{"email", "mailto:support@guara.cloud", "mailto:[REDACTED:email]"},
	{"email", "https://jane@acme.com:pw@host.example.com/x", "https://[REDACTED:email]:[REDACTED:url_password]@host.example.com/x"},

	{"card", "4111111111111111", "[REDACTED:card]"},
	{"card", "card 4111 1111 1111 1111 exp 12/29", "card [REDACTED:card] exp 12/29"},
	{"card", "5555-5555-5555-4444", "[REDACTED:card]"},
	{"card", "amex 3782 822463 10005.", "amex [REDACTED:card]."},
	{"card", "378282246310005", "[REDACTED:card]"},
	{"card", "6011111111111117", "[REDACTED:card]"},
	{"card", "jcb:3530111333300000", "jcb:[REDACTED:card]"},
	{"card", "diners 30569309025904", "diners [REDACTED:card]"},
	{"card", "2223003122003222", "[REDACTED:card]"},
	{"card", "visa13 4222222222222", "visa13 [REDACTED:card]"},
	{"card", "4111111111111111110", "[REDACTED:card]"},
	{"card", "pan_4111111111111111 +5555555555554444", "pan_[REDACTED:card] +[REDACTED:card]"},

	{"cpf", "529.982.247-25", "[REDACTED:cpf]"},
	{"cpf", "CPF 111.444.777-35 inválido?", "CPF [REDACTED:cpf] inválido?"},
	{"cpf", "12345678909", "[REDACTED:cpf]"},
	{"cpf", "cpf=39053344705", "cpf=[REDACTED:cpf]"},

	{"cnpj", "11.222.333/0001-81", "[REDACTED:cnpj]"},
	{"cnpj", "CNPJ: 04597385000177", "CNPJ: [REDACTED:cnpj]"},
	{"cnpj", "33.000.490/0001-85 (matriz)", "[REDACTED:cnpj] (matriz)"},

	{"phone", "+55 11 91234-5678", "[REDACTED:phone]"},
	{"phone", "call +1 (555) 123-4567 now", "call [REDACTED:phone] now"},
	{"phone", "+44 20 7946 0958", "[REDACTED:phone]"},
	{"phone", "+5511912345678", "[REDACTED:phone]"},
	{"phone", "(11) 91234-5678", "[REDACTED:phone]"},
	{"phone", "tel (555) 123-4567.", "tel [REDACTED:phone]."},
	{"phone", "555-123-4567", "[REDACTED:phone]"},
	{"phone", "phone: 11 91234-5678", "phone: [REDACTED:phone]"},
	{"phone", "+49-30-1234567", "[REDACTED:phone]"},

	{"ip", "client 203.0.113.77 connected", "client 203.0.113.0 connected"},
	{"ip", "[2001:db8:abcd:12::1]:443", "[2001:db8:abcd::]:443"},
	{"ip", "allow 10.1.2.3/16", "allow 10.1.2.0/16"},
	{"ip", "from ::ffff:203.0.113.77 via fe80::1%eth0.", "from 203.0.113.0 via fe80::."},
	{"ip", "dial tcp 192.168.10.20:5432: connect: connection refused", "dial tcp 192.168.10.0:5432: connect: connection refused"},
	{"ip", "X-Forwarded-For: 198.51.100.23, 2001:db8:1:2:3:4:5:6", "X-Forwarded-For: 198.51.100.0, 2001:db8:1::"},
}

func TestString_kinds(t *testing.T) {
	for _, tc := range kindCases {
		t.Run(tc.kind, func(t *testing.T) {
			if got := redact.String(tc.in); got != tc.want {
				t.Errorf("String(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// benignValues must pass through String byte-identical.
var benignValues = []string{
	// image references
	"ghcr.io/acme/api:1.24.3", "ghcr.io/acme/api:1.25.0",
	"registry.guara.cloud/acme/web@sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
	"docker.io/library/nginx:1.27-alpine", "nginx@sha256:0123456789012345678901234567890123456789012345678901234567890123",
	"localhost:5000/acme/worker:2026.11.25", "public.ecr.aws/acme/api:v1.2.3-rc.4",
	// commit SHAs
	"3f786850e387550fdab836ed7e6dc881de23001b", "3f78685", "1234567", "0123456789abcdef0123456789abcdef01234567",
	// UUIDs and ULIDs
	"550e8400-e29b-41d4-a716-446655440000", "0190f5c2-7a3e-7c1d-8a2b-3c4d5e6f7a8b", "12345678-1234-4234-8234-123456789012",
	"01ARZ3NDEKTSV4RRFFQ69G5FAV", "01JDQ7X0W5T9ZK3M4N5P6Q7R8S",
	// cron expressions
	"*/5 * * * *", "0 3 * * 1-5", "30 2 1 * *", "0 0 12 * * ?", "15 14 1 * 1-5", "0 */6 * * *", "@daily",
	// timestamps
	"2026-11-25T19:07:48.123-03:00", "2026-11-25T22:07:48Z", "2026-11-25T19:07:48.123456789+05:30",
	"2026-11-25", "19:07:48", "2026-11-25 19:07:48", "Tue, 25 Nov 2026 19:07:48 GMT",
	// hostnames, regions
	"api.acme.internal", "db-1.us-east-1.rds.amazonaws.com", "sa-east-1", "us-central1", "europe-west4-a",
	"api.acme.internal:8443", "ip-10-0-3-17.ec2.internal",
	// versions
	"v1.25.0", "1.25.0-rc.1", "1.25.0", "v1.2.3.4", "2.0.0+build.20261125", "go1.26.8", "1.2.3.4.5",
	"1.0.0+20130313144700", "Chrome/120.0.6099.109",
	// sizes, durations, numbers, booleans
	"512Mi", "1Gi", "250m", "0.5", "30s", "1h30m", "8080", "1700000000", "1764000000000000000",
	"1700000000123", "9907439150008063", "1878310122283459845", "-42", "3.14159", "true", "false",
	// URLs without userinfo and env var names
	"https://api.acme.io/v1/services?limit=50", "https://registry.acme.io", "https://github.com/acme/api/pull/42",
	"https://www.npmjs.com/package/@acme/ui", "https://deploy@registry.example.com/v2/",
	"DATABASE_URL", "REDIS_PASSWORD", "AWS_SECRET_ACCESS_KEY",
	// Kubernetes names and misc identifiers
	"api-7d9f8c6b5-x2k4p", "web-0", "cron-worker-28839427-abcde", "git@github.com:acme/repo.git",
	"Foo::Bar", "std::vector<int>", "a:b:c", "de:ad:be:ef:00:01", "fe80", "1::", "::",
	// prose that looks a little like a secret
	"missing bearer token", "the bearer credentials were rejected", "basic authentication failed", "uses Bearer Authentication", "Basic realm=\"registry\"",
	"replicas changed from 2 to 3", "CPU limit 500m, memory 512Mi", "port 5432 and 6379",
	"build #1234 took 12m03s", "see RFC 3339 and RFC 6962", "50% of 1024", "rate 1000/60s",
	"order 2026-11-25/0001-12", "tests 10/10 passed", "exit status 137",
	"value too long: 12345 > 4096", "test_run_TestMain", "unit_test_case",
	"max_tokens=4096", "password=", "token=[REDACTED]", "a == b", "q=Password", "logo@2x.png", "s3://bucket/key@2x.png",
}

func TestString_benign(t *testing.T) {
	for _, s := range benignValues {
		if got := redact.String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestString_idempotent(t *testing.T) {
	for _, tc := range kindCases {
		once := redact.String(tc.in)
		if twice := redact.String(once); twice != once {
			t.Errorf("String(String(%q)) = %q, want %q", tc.in, twice, once)
		}
	}
}

func TestKinds(t *testing.T) {
	kinds := redact.Kinds()
	seen := map[string]bool{}
	for _, tc := range kindCases {
		seen[tc.kind] = true
	}
	for _, k := range kinds {
		if !seen[k] {
			t.Errorf("kind %q has no test case", k)
		}
	}
	for k := range seen {
		if !slices.Contains(kinds, k) {
			t.Errorf("test kind %q is not in Kinds()", k)
		}
	}
	kinds[0] = "mutated"
	if redact.Kinds()[0] == "mutated" {
		t.Error("Kinds returns shared state")
	}
	for _, tc := range kindCases {
		if tc.kind != "ip" && !strings.Contains(tc.want, "[REDACTED:"+tc.kind+"]") {
			t.Errorf("case %q: want has no %s token", tc.in, tc.kind)
		}
	}
}

// TestString_longDigitRuns: a secret at the end of a long run of digit
// groups (found by FuzzMetadataKeys: the card scanner stopped a run at 64
// groups and so cut a card in two) is found however long the run.
func TestString_longDigitRuns(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 500, 5000} {
		// Not ".": "0.4111..." reads as a decimal number, which card
		// scanning deliberately leaves alone.
		for _, sep := range []string{" ", "-"} {
			prefix := strings.Repeat("0"+sep, n)
			for _, secret := range []string{"4111.1111.1111.1111", "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "529.982.247-25"} {
				in := prefix + secret + " 0"
				if out := redact.String(in); strings.Contains(out, secret) {
					t.Errorf("%d groups of %q, then %q: survived", n, sep, secret)
				}
			}
		}
	}
}
