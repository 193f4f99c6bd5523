package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/guaracloud/auditlog"
)

// MaxBatchEvents is the most events one POST may carry.
const MaxBatchEvents = 1000

// EventBatch is the batch form of the write body.
type EventBatch struct {
	Events []auditlog.Event `json:"events" nullable:"false" minItems:"1" maxItems:"1000" doc:"1 to 1000 events, stored whole or not at all."`
}

// WriteResult answers a write: the stored entries' ids and the entries, in the order sent.
type WriteResult struct {
	IDs  []string         `json:"ids" nullable:"false" doc:"The stored entries' ids, in the order the events were sent."`
	Data []auditlog.Entry `json:"data" nullable:"false" doc:"The stored entries (the existing ones for idempotent resends)."`
}

// AcceptedResult answers a write that is durable but not committed yet
// (cluster mode, 202): the events will be committed exactly once.
type AcceptedResult struct {
	IDs []string `json:"ids" nullable:"false" doc:"The accepted events' ids, in the order sent; each will be committed exactly once."`
}

// Accepter is a Writer that may acknowledge events once they are durable,
// before they are committed (cluster mode: replicated in the shard's stream).
// It returns the stored entries when the commit followed within its short
// deadline, else the accepted ids.
type Accepter interface {
	Accept(ctx context.Context, events []auditlog.Event) (entries []auditlog.Entry, accepted []string, err error)
}

// ProjectOwner tells the service who owns a project.
type ProjectOwner struct {
	OwnerID string `json:"owner_id" minLength:"1" maxLength:"256" doc:"The user who owns the project and may read its admin trail."`
}

// ProjectOwnerResult answers PUT /v1/projects/{project_id}.
type ProjectOwnerResult struct {
	ProjectID string `json:"project_id"`
	OwnerID   string `json:"owner_id"`
}

// readBody reads the whole body within the size limit; an oversized body is a
// 413 and an unreadable one a 400. Decoding is the caller's, in one pass.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, auditlog.Errorf(auditlog.ETooLarge, "the request body is larger than %d bytes", s.maxBody)
	} else if err != nil {
		return nil, fmt.Errorf("api.readBody: %w: %w", auditlog.Errorf(auditlog.EInvalidBody, "the request body could not be read"), err)
	}
	return body, nil
}

// decodeEvents turns a write body (one event, or {"events": [...]}) into
// validated events in one strict pass; any invalid element fails the whole body.
func decodeEvents(body []byte) ([]auditlog.Event, error) {
	return auditlog.DecodeEvents(body, MaxBatchEvents)
}

// postEvents serves POST /v1/audit-logs: it stores one event or a batch, whole
// or not at all, and answers 201 with the stored entries; a cluster node
// answers 202 with the ids when the commit did not follow quickly enough.
func (s *Server) postEvents(w http.ResponseWriter, r *http.Request, _ auditlog.Token) {
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	events, err := decodeEvents(body)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var entries []auditlog.Entry
	if a, ok := s.writer.(Accepter); ok {
		var accepted []string
		entries, accepted, err = a.Accept(r.Context(), events)
		if err == nil && entries == nil {
			s.writeJSON(w, r, http.StatusAccepted, AcceptedResult{IDs: accepted})
			return
		}
	} else {
		entries, err = s.writer.Append(r.Context(), events)
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.postEvents: %w", err))
		return
	}
	body, err = appendWriteResult(make([]byte, 0, 64+len(entries)*(700)), entries)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.postEvents: %w", err))
		return
	}
	s.writeRaw(w, r, http.StatusCreated, body)
}

// appendWriteResult writes the WriteResult of entries as writeJSON would,
// with each entry's stored canonical bytes copied as they are, not
// re-scanned by encoding/json (most of the answer's bytes).
func appendWriteResult(b []byte, entries []auditlog.Entry) ([]byte, error) {
	b = append(b, `{"ids":[`...)
	for i := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		id, err := json.Marshal(entries[i].ID)
		if err != nil {
			return nil, fmt.Errorf("write result: %w", err)
		}
		b = append(b, id...)
	}
	b = append(b, `],"data":[`...)
	for i := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		raw, err := entries[i].MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("write result: %w", err)
		}
		b = append(b, raw...)
	}
	return append(b, "]}\n"...), nil
}

// putProject serves PUT /v1/projects/{project_id}: it records the project's owner.
func (s *Server) putProject(w http.ResponseWriter, r *http.Request, _ auditlog.Token) {
	projectID := r.PathValue("project_id")
	if !auditlog.ValidRef(projectID) {
		s.writeError(w, r, auditlog.ParamError("project_id", "project_id must be 1-%d printable characters", auditlog.MaxRefLen))
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := auditlog.CheckJSON(body); err != nil {
		s.writeError(w, r, err)
		return
	}
	var in ProjectOwner
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) && typeErr.Field == "owner_id" {
			s.writeError(w, r, auditlog.ParamError("owner_id", "owner_id must be a string"))
			return
		}
		s.writeError(w, r, auditlog.Errorf(auditlog.EInvalidBody, `the request body must be {"owner_id": "..."}`))
		return
	}
	if !auditlog.ValidRef(in.OwnerID) {
		s.writeError(w, r, auditlog.ParamError("owner_id", "owner_id must be 1-%d printable characters", auditlog.MaxRefLen))
		return
	}
	if err := s.store.SetProjectOwner(r.Context(), projectID, in.OwnerID); err != nil {
		s.writeError(w, r, fmt.Errorf("api.putProject: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, ProjectOwnerResult{ProjectID: projectID, OwnerID: in.OwnerID})
}
