package api

import (
	"net/http"
	"slices"
	"strings"
)

// routes registers every route of the API; it is the only place that does.
func (s *Server) routes() {
	// Reads, for user tokens, scoped to the caller.
	s.handle("GET /v1/audit-logs", s.userOnly(s.listOwn))
	s.handle("GET /v1/audit-logs/{id}", s.userOnly(s.getOwn))
	s.handle("GET /v1/projects/{project_id}/audit-logs", s.userOnly(s.listProject))
	s.handle("GET /v1/actions", s.userOnly(s.listActions))

	// Tamper evidence, for user tokens: inclusion proofs and signed exports of the caller's own entries.
	s.handle("GET /v1/audit-logs/export", s.userOnly(s.exportOwn))
	s.handle("GET /v1/audit-logs/{id}/proof", s.userOnly(s.proofOwn))

	// Writes, for writer tokens.
	s.handle("POST /v1/audit-logs", s.writerOnly(s.postEvents))
	s.handle("PUT /v1/projects/{project_id}", s.writerOnly(s.putProject))

	// Streaming destinations, for user tokens: each user's own (package stream).
	s.handle("POST /v1/streams", s.streamsOnly(s.createStream))
	s.handle("GET /v1/streams", s.streamsOnly(s.listStreams))
	s.handle("GET /v1/streams/{id}", s.streamsOnly(s.getStream))
	s.handle("PATCH /v1/streams/{id}", s.streamsOnly(s.updateStream))
	s.handle("DELETE /v1/streams/{id}", s.streamsOnly(s.deleteStream))
	s.handle("POST /v1/streams/{id}/replay", s.streamsOnly(s.replayStream))
	s.handle("POST /v1/streams/{id}/test", s.streamsOnly(s.testStream))

	// Public, meant to be gossiped: signed checkpoints, the verifier key, consistency proofs.
	s.handle("GET /v1/checkpoint", http.HandlerFunc(s.checkpoint))
	s.handle("GET /v1/checkpoint/key", http.HandlerFunc(s.checkpointKey))
	s.handle("GET /v1/checkpoint/consistency", http.HandlerFunc(s.consistency))
	// Public: the tree's hashes as C2SP tlog-tiles, for clients that verify on their own.
	s.handle("GET /tile/{path...}", http.HandlerFunc(s.tile))
	// The same per shard, under the prefix a tlog-tiles client of one shard's log uses.
	s.handle("GET /shards/{shard}/checkpoint", http.HandlerFunc(s.checkpoint))
	s.handle("GET /shards/{shard}/tile/{path...}", http.HandlerFunc(s.tile))

	// Public: the API description, probes and metrics.
	s.handle("GET /openapi.json", http.HandlerFunc(s.serveOpenAPI))
	s.handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.handle("GET /readyz", http.HandlerFunc(s.readyz))
	s.handle("GET /metrics", s.metrics.handler())
}

// handle registers h for pattern ("METHOD /path") and remembers the pattern.
func (s *Server) handle(pattern string, h http.Handler) {
	s.patterns = append(s.patterns, pattern)
	s.mux.Handle(pattern, h)
}

// Routes lists the patterns ("METHOD /path/{param}") of every registered
// route, sorted; a trailing wildcard {param...} is written {param}, as the
// OpenAPI document writes it.
func (s *Server) Routes() []string {
	out := make([]string, len(s.patterns))
	for i, p := range s.patterns {
		out[i] = strings.Replace(p, "...}", "}", 1)
	}
	slices.Sort(out)
	return out
}
