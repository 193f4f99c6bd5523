package stream

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/guaracloud/auditlog"
)

// Recorder records the service's own changes as audit entries (the write path's Append).
type Recorder interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
}

// Owners tells who owns a project: only its owner may stream its admin trail.
type Owners interface {
	ProjectOwner(ctx context.Context, projectID string) (string, error)
}

// ServiceConfig holds what a Service needs; Store, Sealer, Owners and Recorder are required.
type ServiceConfig struct {
	Store    Store
	Sealer   *Sealer
	Owners   Owners
	Recorder Recorder
	// AllowPrivate lets destinations be on loopback and private networks
	// (serve --streams-allow-private).
	AllowPrivate bool
	Senders      SenderOptions // how test events are sent
	// Head returns the size (the next seq) of the log holding the owner's
	// entries; required.
	Head func(ctx context.Context, ownerID string) (int64, error)
	// NoProjectScope, when set, refuses project streams with this reason
	// (cluster mode, where a project's admin trail spans shards).
	NoProjectScope string
	Wake           func()           // tells the runner that a destination changed; may be nil
	Now            func() time.Time // nil means time.Now
}

// Service is what the API and the dashboard do with destinations: every
// change is checked, applied and then recorded as an audit entry of the
// caller's (audit_log.stream.create, .update, .replay, .delete); a change
// whose record fails is undone, so every change that stands is audited.
type Service struct {
	cfg ServiceConfig
}

// Caller is who asks for a change, as the audit entry records it.
type Caller struct {
	UserID    string
	IP        string // raw client address (anonymized by the write path); may be empty
	UserAgent string // may be empty
}

// Bounds of the inputs.
const (
	maxTokenLen  = 512
	maxErrorText = 300
	saveAttempts = 8
)

// NewService checks the configuration.
func NewService(cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil || cfg.Sealer == nil || cfg.Owners == nil || cfg.Recorder == nil || cfg.Head == nil {
		return nil, errors.New("stream.NewService: Store, Sealer, Owners, Recorder and Head are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Wake == nil {
		cfg.Wake = func() {}
	}
	return &Service{cfg: cfg}, nil
}

// Create checks and stores a new destination, starting after the log's
// current end unless req.FromSeq says where. A webhook's answer holds its
// signing secret, shown this once.
func (s *Service) Create(ctx context.Context, c Caller, req CreateRequest) (View, error) {
	d := Destination{Type: req.Type, Scope: req.Scope, URL: req.URL, Status: Active, Version: 1}
	if err := s.checkType(d.Type, req.Token); err != nil {
		return View{}, err
	}
	if err := s.checkScope(ctx, c.UserID, &d, req.ProjectID); err != nil {
		return View{}, err
	}
	head, err := s.cfg.Head(ctx, c.UserID)
	if err != nil {
		return View{}, fmt.Errorf("stream.Create: %w", err)
	}
	d.Position = head - 1
	if req.FromSeq != nil {
		if *req.FromSeq < 0 || *req.FromSeq > head {
			return View{}, auditlog.ParamError("from_seq", "from_seq must be from 0 to %d (the log's size)", head)
		}
		d.Position = *req.FromSeq - 1
	}
	// Last: it may resolve the host name.
	if err := CheckURL(ctx, d.Type, d.URL, s.cfg.AllowPrivate); err != nil {
		return View{}, err
	}
	var secret string
	var plain []byte
	switch d.Type {
	case Webhook:
		secret = newSecret()
		plain = []byte(secret)
	case SplunkHEC:
		plain = []byte(*req.Token)
	}
	d.ID, d.OwnerID = newID(), c.UserID
	d.CreatedAt = s.cfg.Now().UTC()
	d.UpdatedAt = d.CreatedAt
	if plain != nil {
		if d.Credential, err = s.cfg.Sealer.Seal(d.ID, plain); err != nil {
			return View{}, fmt.Errorf("stream.Create: %w", err)
		}
	}
	if err := s.cfg.Store.CreateStream(ctx, d); err != nil {
		return View{}, fmt.Errorf("stream.Create: %w", err)
	}
	if err := s.record(ctx, c, "create", d, nil); err != nil {
		if derr := s.cfg.Store.DeleteStream(context.WithoutCancel(ctx), d.ID); derr != nil {
			err = errors.Join(err, derr)
		}
		return View{}, fmt.Errorf("stream.Create: %w", err)
	}
	s.cfg.Wake()
	v := viewOf(d, head)
	v.Secret = secret
	return v, nil
}

// List returns the owner's destinations, oldest first.
func (s *Service) List(ctx context.Context, ownerID string) ([]View, error) {
	ds, err := s.cfg.Store.Streams(ctx, ownerID)
	if err != nil {
		return nil, fmt.Errorf("stream.List: %w", err)
	}
	head := s.head(ctx, ownerID)
	out := make([]View, len(ds))
	for i, d := range ds {
		out[i] = viewOf(d, head)
	}
	return out, nil
}

// Get returns one of the owner's destinations; anyone else's is ENotFound.
func (s *Service) Get(ctx context.Context, ownerID, id string) (View, error) {
	d, err := s.own(ctx, ownerID, id)
	if err != nil {
		return View{}, fmt.Errorf("stream.Get: %w", err)
	}
	return viewOf(d, s.head(ctx, ownerID)), nil
}

// Update pauses, resumes or re-points one of the caller's destinations. A
// resume clears the failure count and the last error.
func (s *Service) Update(ctx context.Context, c Caller, id string, req UpdateRequest) (View, error) {
	if req.Status == nil && req.URL == nil && req.Token == nil {
		return View{}, auditlog.Errorf(auditlog.EInvalidBody, "nothing to change: give status, url or token")
	}
	if req.Status != nil && *req.Status != Active && *req.Status != Paused {
		return View{}, auditlog.ParamError("status", "status must be %q or %q", Active, Paused)
	}
	d, err := s.own(ctx, c.UserID, id)
	if err != nil {
		return View{}, fmt.Errorf("stream.Update: %w", err)
	}
	if req.Token != nil {
		if d.Type != SplunkHEC {
			return View{}, auditlog.ParamError("token", "only splunk_hec destinations take a token")
		}
		if err := checkToken(*req.Token); err != nil {
			return View{}, err
		}
	}
	if req.URL != nil {
		if err := CheckURL(ctx, d.Type, *req.URL, s.cfg.AllowPrivate); err != nil {
			return View{}, err
		}
	}
	var sealed []byte
	if req.Token != nil {
		if sealed, err = s.cfg.Sealer.Seal(d.ID, []byte(*req.Token)); err != nil {
			return View{}, fmt.Errorf("stream.Update: %w", err)
		}
	}
	changed := map[string]any{}
	saved, before, err := s.change(ctx, c.UserID, id, func(d *Destination) {
		if req.Status != nil {
			changed["status"] = *req.Status
			if *req.Status == Active && d.Status != Active {
				d.Failures, d.LastError = 0, ""
			}
			d.Status = *req.Status
		}
		if req.URL != nil {
			changed["url"] = *req.URL
			d.URL = *req.URL
		}
		if sealed != nil {
			changed["token"] = "changed"
			d.Credential = sealed
		}
	})
	if err != nil {
		return View{}, fmt.Errorf("stream.Update: %w", err)
	}
	if err := s.record(ctx, c, "update", saved, map[string]any{"changed": changed}); err != nil {
		return View{}, fmt.Errorf("stream.Update: %w", s.undo(ctx, c.UserID, before, err))
	}
	s.cfg.Wake()
	return viewOf(saved, s.head(ctx, c.UserID)), nil
}

// Replay moves a destination's position back so that delivery starts again
// at fromSeq (at-least-once: receivers de-duplicate by entry id), and
// resumes it. It never moves the position forward, which would skip entries.
func (s *Service) Replay(ctx context.Context, c Caller, id string, req ReplayRequest) (View, error) {
	if req.FromSeq == nil {
		return View{}, auditlog.ParamError("from_seq", "from_seq is required")
	}
	from := *req.FromSeq
	if from < 0 {
		return View{}, auditlog.ParamError("from_seq", "from_seq must be 0 or more")
	}
	var tooLate *auditlog.Error
	saved, before, err := s.change(ctx, c.UserID, id, func(d *Destination) {
		if from > d.Position+1 {
			tooLate = auditlog.ParamError("from_seq", "from_seq must be at most %d: a replay moves the position back, never forward", d.Position+1)
			return
		}
		d.Position = from - 1
		d.Status, d.Failures, d.LastError = Active, 0, ""
	})
	if tooLate != nil {
		return View{}, tooLate
	}
	if err != nil {
		return View{}, fmt.Errorf("stream.Replay: %w", err)
	}
	if err := s.record(ctx, c, "replay", saved, map[string]any{"from_seq": from}); err != nil {
		return View{}, fmt.Errorf("stream.Replay: %w", s.undo(ctx, c.UserID, before, err))
	}
	s.cfg.Wake()
	return viewOf(saved, s.head(ctx, c.UserID)), nil
}

// Delete removes one of the caller's destinations; delivery to it stops.
func (s *Service) Delete(ctx context.Context, c Caller, id string) error {
	d, err := s.own(ctx, c.UserID, id)
	if err != nil {
		return fmt.Errorf("stream.Delete: %w", err)
	}
	if err := s.cfg.Store.DeleteStream(ctx, id); err != nil {
		return fmt.Errorf("stream.Delete: %w", err)
	}
	if err := s.record(ctx, c, "delete", d, nil); err != nil {
		if cerr := s.cfg.Store.CreateStream(context.WithoutCancel(ctx), d); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return fmt.Errorf("stream.Delete: %w", err)
	}
	s.cfg.Wake()
	return nil
}

// Test sends one test event (action audit_log.stream.test, never stored) to
// the destination now and reports whether the receiver took it; the
// destination's state does not change.
func (s *Service) Test(ctx context.Context, ownerID, id string) (TestResult, error) {
	d, err := s.own(ctx, ownerID, id)
	if err != nil {
		return TestResult{}, fmt.Errorf("stream.Test: %w", err)
	}
	var cred []byte
	if d.Credential != nil {
		if cred, err = s.cfg.Sealer.Open(d.ID, d.Credential); err != nil {
			return TestResult{}, fmt.Errorf("stream.Test: %w", err)
		}
	}
	err = s.sendTest(ctx, d, cred)
	if err != nil {
		msg := clip(err.Error(), maxErrorText)
		return TestResult{Error: &msg}, nil
	}
	return TestResult{Delivered: true}, nil
}

// sendTest sends the test event through a sender of its own.
func (s *Service) sendTest(ctx context.Context, d Destination, cred []byte) error {
	snd, err := NewSender(d, cred, s.cfg.Senders)
	if err != nil {
		return err
	}
	defer snd.Close()
	return snd.Send(ctx, []auditlog.Entry{TestEntry(d, s.cfg.Now())})
}

// own returns the destination if ownerID owns it, and ENotFound otherwise.
func (s *Service) own(ctx context.Context, ownerID, id string) (Destination, error) {
	if !validID(id) {
		return Destination{}, notFound()
	}
	d, err := s.cfg.Store.Stream(ctx, id)
	if err != nil {
		return Destination{}, err
	}
	if d.OwnerID != ownerID {
		return Destination{}, notFound()
	}
	return d, nil
}

// change applies edit to the caller's destination and saves it, again on a
// fresh copy when a delivery saved progress meanwhile. It returns the saved
// destination and the one it replaced.
func (s *Service) change(ctx context.Context, ownerID, id string, edit func(*Destination)) (saved, before Destination, err error) {
	for range saveAttempts {
		if before, err = s.own(ctx, ownerID, id); err != nil {
			return Destination{}, Destination{}, err
		}
		d := before
		edit(&d)
		d.UpdatedAt = s.cfg.Now().UTC()
		saved, err = s.cfg.Store.UpdateStream(ctx, d)
		if auditlog.ErrorCode(err) != auditlog.EConflict {
			return saved, before, err
		}
	}
	return Destination{}, Destination{}, auditlog.Errorf(auditlog.EUnavailable, "the stream kept changing while it was saved; retry")
}

// undo restores before after the record of a change failed, and returns cause.
func (s *Service) undo(ctx context.Context, ownerID string, before Destination, cause error) error {
	_, _, err := s.change(context.WithoutCancel(ctx), ownerID, before.ID, func(d *Destination) {
		d.URL, d.Credential, d.Status, d.Position = before.URL, before.Credential, before.Status, before.Position
		d.Failures, d.LastError = before.Failures, before.LastError
	})
	return errors.Join(cause, err)
}

// record appends the audit entry of a change to d by the caller.
func (s *Service) record(ctx context.Context, c Caller, verb string, d Destination, extra map[string]any) error {
	meta := map[string]any{"type": d.Type, "scope": d.Scope, "url": d.URL, "status": d.Status}
	for k, v := range extra {
		meta[k] = v
	}
	e := auditlog.Event{Action: "audit_log.stream." + verb, ResourceType: "audit_log_stream", ResourceID: d.ID,
		ActorID: c.UserID, Outcome: auditlog.Success, Metadata: meta}
	if d.ProjectID != "" {
		p := d.ProjectID
		e.ProjectID = &p
	}
	if c.IP != "" {
		ip := c.IP
		e.IP = &ip
	}
	if c.UserAgent != "" {
		ua := c.UserAgent
		e.UserAgent = &ua
	}
	if _, err := s.cfg.Recorder.Append(ctx, []auditlog.Event{e}); err != nil {
		return fmt.Errorf("record %s: %w", e.Action, err)
	}
	return nil
}

// checkType checks the destination type and whether it takes a token.
func (s *Service) checkType(typ string, token *string) error {
	switch typ {
	case Webhook, Syslog:
		if token != nil {
			return auditlog.ParamError("token", "only splunk_hec destinations take a token")
		}
		return nil
	case SplunkHEC:
		if token == nil {
			return auditlog.ParamError("token", "a splunk_hec destination needs its HEC token")
		}
		return checkToken(*token)
	default:
		return auditlog.ParamError("type", "type must be %q, %q or %q", Webhook, SplunkHEC, Syslog)
	}
}

// checkScope sets the destination's scope: the caller's own entries, or the
// admin trail of a project the caller owns (anyone else's project is ENotFound).
func (s *Service) checkScope(ctx context.Context, userID string, d *Destination, projectID *string) error {
	switch d.Scope {
	case "", ScopeMe:
		d.Scope = ScopeMe
		if projectID != nil {
			return auditlog.ParamError("project_id", `project_id is only for "scope": "project"`)
		}
		return nil
	case ScopeProject:
		if s.cfg.NoProjectScope != "" {
			return auditlog.ParamError("scope", "%s", s.cfg.NoProjectScope)
		}
		if projectID == nil || !auditlog.ValidRef(*projectID) {
			return auditlog.ParamError("project_id", "a project stream needs project_id: 1-%d printable characters", auditlog.MaxRefLen)
		}
		owner, err := s.cfg.Owners.ProjectOwner(ctx, *projectID)
		if auditlog.ErrorCode(err) == auditlog.ENotFound || (err == nil && owner != userID) {
			return &auditlog.Error{Code: auditlog.ENotFound, Message: "no such project among those you own", Param: "project_id"}
		}
		if err != nil {
			return fmt.Errorf("stream: project owner: %w", err)
		}
		d.ProjectID = *projectID
		return nil
	default:
		return auditlog.ParamError("scope", "scope must be %q or %q", ScopeMe, ScopeProject)
	}
}

// checkToken bounds a Splunk HEC token: 1-512 printable ASCII characters.
func checkToken(t string) error {
	if t == "" || len(t) > maxTokenLen {
		return auditlog.ParamError("token", "token must be 1-%d characters", maxTokenLen)
	}
	for i := 0; i < len(t); i++ {
		if t[i] <= ' ' || t[i] > '~' {
			return auditlog.ParamError("token", "token must be printable ASCII without spaces")
		}
	}
	return nil
}

// head returns the size of the log holding the owner's entries, or -1 when it cannot be read now (the views
// then show no lag rather than failing).
func (s *Service) head(ctx context.Context, ownerID string) int64 {
	n, err := s.cfg.Head(ctx, ownerID)
	if err != nil {
		return -1
	}
	return n
}

// idPrefix starts every destination id.
const idPrefix = "str_"

// idEncoding writes ids and secrets' random parts: lowercase base32, no padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random destination id: "str_" and 26 base32 characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return idPrefix + idEncoding.EncodeToString(b[:])
}

// validID reports whether id has the shape newID makes, so that other
// strings never reach the store.
func validID(id string) bool {
	if len(id) != len(idPrefix)+26 || !strings.HasPrefix(id, idPrefix) {
		return false
	}
	_, err := idEncoding.DecodeString(id[len(idPrefix):])
	return err == nil
}

// newSecret returns a webhook signing secret, "whsec_" and 32 random bytes.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// notFound is the answer for a destination that is not the caller's.
func notFound() error {
	return auditlog.Errorf(auditlog.ENotFound, "no such stream")
}

// clip shortens s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}
