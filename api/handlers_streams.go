package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// Streams manages the caller's streaming destinations (package stream's
// Service implements it).
type Streams interface {
	Create(ctx context.Context, c stream.Caller, req stream.CreateRequest) (stream.View, error)
	List(ctx context.Context, ownerID string) ([]stream.View, error)
	Get(ctx context.Context, ownerID, id string) (stream.View, error)
	Update(ctx context.Context, c stream.Caller, id string, req stream.UpdateRequest) (stream.View, error)
	Delete(ctx context.Context, c stream.Caller, id string) error
	Replay(ctx context.Context, c stream.Caller, id string, req stream.ReplayRequest) (stream.View, error)
	Test(ctx context.Context, ownerID, id string) (stream.TestResult, error)
}

// streamsOff answers when the server has no streams (cluster mode, for now).
func (s *Server) streamsOff(w http.ResponseWriter, r *http.Request) bool {
	if s.streams != nil {
		return false
	}
	s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "streaming is not enabled on this server"))
	return true
}

// caller is the stream.Caller of a request.
func caller(r *http.Request, tok auditlog.Token) stream.Caller {
	return stream.Caller{UserID: tok.UserID, IP: clientIP(r), UserAgent: r.UserAgent()}
}

// createStream serves POST /v1/streams.
func (s *Server) createStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	var req stream.CreateRequest
	if err := s.decodeBody(w, r, &req, `{"type": "webhook"|"splunk_hec"|"syslog", "url": "...", ...}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Create(r.Context(), caller(r, tok), req)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.createStream: %w", err))
		return
	}
	w.Header().Set("Location", "/v1/streams/"+v.ID)
	s.writeJSON(w, r, http.StatusCreated, v)
}

// listStreams serves GET /v1/streams: the caller's destinations, oldest first.
func (s *Server) listStreams(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	vs, err := s.streams.List(r.Context(), tok.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.listStreams: %w", err))
		return
	}
	if vs == nil {
		vs = []stream.View{}
	}
	s.writeJSON(w, r, http.StatusOK, stream.List{Data: vs})
}

// getStream serves GET /v1/streams/{id}.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	v, err := s.streams.Get(r.Context(), tok.UserID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.getStream: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// updateStream serves PATCH /v1/streams/{id}.
func (s *Server) updateStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	var req stream.UpdateRequest
	if err := s.decodeBody(w, r, &req, `{"status": "active"|"paused", "url": "...", "token": "..."}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Update(r.Context(), caller(r, tok), r.PathValue("id"), req)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.updateStream: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// deleteStream serves DELETE /v1/streams/{id}: 204, delivery stops.
func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	if err := s.streams.Delete(r.Context(), caller(r, tok), r.PathValue("id")); err != nil {
		s.writeError(w, r, fmt.Errorf("api.deleteStream: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replayStream serves POST /v1/streams/{id}/replay.
func (s *Server) replayStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	var req stream.ReplayRequest
	if err := s.decodeBody(w, r, &req, `{"from_seq": N}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Replay(r.Context(), caller(r, tok), r.PathValue("id"), req)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.replayStream: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, v)
}

// testStream serves POST /v1/streams/{id}/test: one test event, sent now.
func (s *Server) testStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if s.streamsOff(w, r) {
		return
	}
	res, err := s.streams.Test(r.Context(), tok.UserID, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.testStream: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, res)
}

// decodeBody reads a JSON object body strictly into v: within the size
// limit, valid UTF-8, no key twice, no unknown field; a field of the wrong
// type is a 400 naming it. shape describes the expected body in messages.
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any, shape string) error {
	body, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	if err := auditlog.CheckJSON(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field != "" {
			return auditlog.ParamError(typeErr.Field, "%s must be a JSON %s", typeErr.Field, jsonKind(typeErr.Type.Kind().String()))
		}
		return auditlog.Errorf(auditlog.EInvalidBody, "the request body must be %s", shape)
	}
	if dec.More() {
		return auditlog.Errorf(auditlog.EInvalidBody, "the request body must be one JSON object: %s", shape)
	}
	return nil
}

// jsonKind names the JSON type of a Go kind, for messages.
func jsonKind(kind string) string {
	switch kind {
	case "int64", "int", "float64":
		return "number"
	case "string":
		return "string"
	}
	return "value"
}
