package auditlog

import (
	"regexp"
	"testing"
)

// matchesPatterns checks the hand-written validators against the published
// patterns they implement (the OpenAPI document's), on one string.
func matchesPatterns(t *testing.T, s string) {
	t.Helper()
	for _, c := range []struct {
		name    string
		pattern string
		max     int
		valid   func(string) bool
	}{
		{"ValidID", IDPattern, MaxIDLen, ValidID},
		{"ValidAction", ActionPattern, MaxActionLen, ValidAction},
		{"ValidResourceType", ResourceTypePattern, MaxTypeLen, ValidResourceType},
	} {
		want := len(s) <= c.max && regexp.MustCompile(c.pattern).MatchString(s)
		if got := c.valid(s); got != want {
			t.Fatalf("%s(%q) = %v, the pattern %s says %v", c.name, s, got, c.pattern, want)
		}
	}
}

func TestValidatorsMatchPatterns(t *testing.T) {
	for _, s := range []string{"", "a", "A", "_", ".", "a.b", "a..b", ".a", "a.", "a.b.c", "service.update", "Service.update",
		"cron_worker.manual_trigger", "evt_01:x-y.z", "-x", "x y", "é", "a\x00", "usr_1", "9", "a_b", "a.b_", "ab.c9.d_"} {
		matchesPatterns(t, s)
	}
}

func FuzzValidators(f *testing.F) {
	f.Add("service.update")
	f.Add("evt_01HZ:a-b.c")
	f.Fuzz(func(t *testing.T, s string) { matchesPatterns(t, s) })
}
