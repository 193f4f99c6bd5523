package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/stream"
)

// streamsOnly wraps h for user tokens on a server with streams; without
// them the answer is a 404 saying so.
func (s *Server) streamsOnly(h tokenHandler) http.HandlerFunc {
	return s.userOnly(func(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
		if s.streams == nil {
			s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "streaming is not enabled on this server"))
			return
		}
		h(w, r, tok)
	})
}

// answer writes v with status, or err wrapped with the operation's name.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, op string, status int, v any, err error) {
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.%s: %w", op, err))
		return
	}
	s.writeJSON(w, r, status, v)
}

// caller is the stream.Caller of a request.
func caller(r *http.Request, tok auditlog.Token) stream.Caller {
	return stream.Caller{UserID: tok.UserID, IP: clientIP(r), UserAgent: r.UserAgent()}
}

// createStream serves POST /v1/streams.
func (s *Server) createStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	var req stream.CreateRequest
	if err := s.decodeBody(w, r, &req, `{"type": "webhook"|"splunk_hec"|"syslog", "url": "...", ...}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Create(r.Context(), caller(r, tok), req)
	if err == nil {
		w.Header().Set("Location", "/v1/streams/"+v.ID)
	}
	s.answer(w, r, "createStream", http.StatusCreated, v, err)
}

// listStreams serves GET /v1/streams: the caller's destinations, oldest first.
func (s *Server) listStreams(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	vs, err := s.streams.List(r.Context(), tok.UserID)
	if vs == nil {
		vs = []stream.View{}
	}
	s.answer(w, r, "listStreams", http.StatusOK, stream.List{Data: vs}, err)
}

// getStream serves GET /v1/streams/{id}.
func (s *Server) getStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	v, err := s.streams.Get(r.Context(), tok.UserID, r.PathValue("id"))
	s.answer(w, r, "getStream", http.StatusOK, v, err)
}

// updateStream serves PATCH /v1/streams/{id}.
func (s *Server) updateStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	var req stream.UpdateRequest
	if err := s.decodeBody(w, r, &req, `{"status": "active"|"paused", "url": "...", "token": "..."}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Update(r.Context(), caller(r, tok), r.PathValue("id"), req)
	s.answer(w, r, "updateStream", http.StatusOK, v, err)
}

// deleteStream serves DELETE /v1/streams/{id}: 204, delivery stops.
func (s *Server) deleteStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	if err := s.streams.Delete(r.Context(), caller(r, tok), r.PathValue("id")); err != nil {
		s.writeError(w, r, fmt.Errorf("api.deleteStream: %w", err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// replayStream serves POST /v1/streams/{id}/replay.
func (s *Server) replayStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	var req stream.ReplayRequest
	if err := s.decodeBody(w, r, &req, `{"from_seq": N}`); err != nil {
		s.writeError(w, r, err)
		return
	}
	v, err := s.streams.Replay(r.Context(), caller(r, tok), r.PathValue("id"), req)
	s.answer(w, r, "replayStream", http.StatusOK, v, err)
}

// testStream serves POST /v1/streams/{id}/test: one test event, sent now.
func (s *Server) testStream(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	res, err := s.streams.Test(r.Context(), tok.UserID, r.PathValue("id"))
	s.answer(w, r, "testStream", http.StatusOK, res, err)
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
