package interceptor_test

import (
	"context"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/sequencer"
	"github.com/guaracloud/auditlog/sqlite"
)

// TestInProcess records through the sequencer into SQLite, as `serve --demo` does.
func TestInProcess(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	seq := sequencer.New(store, sequencer.Options{})
	defer seq.Close(ctx)
	m := interceptor.NewMux(interceptor.Config{Sink: interceptor.InProcess(seq), Actor: bearer})
	m.AuditFunc(interceptor.Route{Method: "PUT", Pattern: "/v1/services/{service_id}/env/{key}", Action: "env_var.set",
		ResourceType: "env_var"}, func(w http.ResponseWriter, r *http.Request) {
		interceptor.SetResourceID(r, r.PathValue("service_id")+"/"+r.PathValue("key"))
		interceptor.AddMetadata(r, "key", r.PathValue("key"))
		interceptor.AddMetadata(r, "value", "postgres://app:s3cr3t@db.internal/app")
	})
	w := do(m, "PUT", "/v1/services/svc_api/env/DATABASE_URL", "usr_ana", "")
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	page, err := store.Query(ctx, auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 10})
	if err != nil || len(page.Entries) != 1 {
		t.Fatalf("%d entries, %v", len(page.Entries), err)
	}
	e := page.Entries[0]
	if e.ResourceID != "svc_api/DATABASE_URL" || e.Metadata["value"] != "[REDACTED]" || *e.IP != "203.0.113.0" {
		t.Fatalf("entry %s", e.Canonical)
	}
}
