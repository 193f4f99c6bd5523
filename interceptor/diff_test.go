package interceptor_test

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/guaracloud/auditlog/interceptor"
)

func TestDiff(t *testing.T) {
	type m = map[string]any
	ch := func(from, to any) m { return m{"from": from, "to": to} }
	for name, c := range map[string]struct {
		before, after, want m
	}{
		"Unchanged":      {m{"image": "ghcr.io/acme/api:1.24.3"}, m{"image": "ghcr.io/acme/api:1.24.3"}, m{}},
		"Changed":        {m{"image": "ghcr.io/acme/api:1.24.3", "replicas": 2}, m{"image": "ghcr.io/acme/api:1.25.0", "replicas": 2}, m{"image": ch("ghcr.io/acme/api:1.24.3", "ghcr.io/acme/api:1.25.0")}},
		"Added":          {m{}, m{"schedule": "0 3 * * *"}, m{"schedule": ch(nil, "0 3 * * *")}},
		"Removed":        {m{"schedule": "0 3 * * *"}, m{}, m{"schedule": ch("0 3 * * *", nil)}},
		"NilInputs":      {nil, nil, m{}},
		"NumbersByValue": {m{"replicas": 2, "cpu": 0.5}, m{"replicas": json.Number("2"), "cpu": float64(0.5)}, m{}},
		"NumberChanged":  {m{"replicas": 2}, m{"replicas": json.Number("3")}, m{"replicas": ch(2, json.Number("3"))}},
		"SliceWhole":     {m{"ports": []any{80, 443}}, m{"ports": []any{80, 8443}}, m{"ports": ch([]any{80, 443}, []any{80, 8443})}},
		"TypeChange":     {m{"limit": "none"}, m{"limit": m{"cpu": 1}}, m{"limit": ch("none", m{"cpu": 1})}},
		"NestedDotted": {m{"resources": m{"cpu": "250m", "memory": "512Mi"}}, m{"resources": m{"cpu": "500m", "memory": "512Mi"}},
			m{"resources.cpu": ch("250m", "500m")}},
		"SecretMasked":          {m{"password": "hunter2"}, m{"password": "hunter3"}, m{"password": ch("[REDACTED]", "[REDACTED]")}},
		"SecretSetFirstTime":    {m{}, m{"api_key": "gk_live_abc"}, m{"api_key": ch(nil, "[REDACTED]")}},
		"SecretUnchangedHidden": {m{"token": "same"}, m{"token": "same"}, m{}},
		"SecretFlatDotted":      {m{"registry.password": "a"}, m{"registry.password": "b"}, m{"registry.password": ch("[REDACTED]", "[REDACTED]")}},
		"SecretNested": {m{"registry": m{"url": "https://r.io", "password": "a"}}, m{"registry": m{"url": "https://r2.io", "password": "b"}},
			m{"registry.url": ch("https://r.io", "https://r2.io"), "registry.password": ch("[REDACTED]", "[REDACTED]")}},
		"SecretParentKey": {m{"credentials": m{"user": "a"}}, m{"credentials": m{"user": "b"}}, m{"credentials.user": ch("[REDACTED]", "[REDACTED]")}},
		"EnvValuesMasked": {m{"env": m{"DATABASE_URL": "postgres://a"}}, m{"env": m{"DATABASE_URL": "postgres://b", "LOG_LEVEL": "debug"}},
			m{"env.DATABASE_URL": ch("[REDACTED]", "[REDACTED]"), "env.LOG_LEVEL": ch(nil, "[REDACTED]")}},
		"SecretWholeMap": {m{}, m{"registry": m{"url": "https://r.io", "password": "p"}},
			m{"registry": ch(nil, m{"url": "https://r.io", "password": "p"})}}, // leaf maps are redacted with the event's metadata
	} {
		t.Run(name, func(t *testing.T) {
			got := interceptor.Diff(c.before, c.after)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Fatalf("Diff (-want +got):\n%s", diff)
			}
		})
	}
}
