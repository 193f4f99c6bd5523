package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/guaracloud/auditlog"
)

// Health is the answer of the health and readiness probes.
type Health struct {
	Status string `json:"status" enum:"ok" doc:"Always ok when the probe succeeds."`
}

// healthz serves GET /healthz: the process is up.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ok"})
}

// ReadyTimeout bounds GET /readyz: it answers within it, whatever storage does.
const ReadyTimeout = 2 * time.Second

// readyz serves GET /readyz: the store answers reads and can take writes now
// (the writer's last commit or write probe succeeded), so requests can be served.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.writeError(w, r, fmt.Errorf("api.readyz: %w: %w", auditlog.Errorf(auditlog.EUnavailable, "storage is unreachable"), err))
		return
	}
	if err := s.writer.Ready(ctx); err != nil {
		s.writeError(w, r, fmt.Errorf("api.readyz: %w: %w", auditlog.Errorf(auditlog.EUnavailable, "storage cannot take writes now"), err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, Health{Status: "ok"})
}

// serveOpenAPI serves GET /openapi.json: the OpenAPI 3.0 document, built once at start.
func (s *Server) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(s.openapi)
	}
}
