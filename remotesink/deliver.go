package remotesink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/client"
	"github.com/guaracloud/auditlog/spool"
)

// DeadLetterFile is the name, in the spool directory, of the JSON-lines file of refused events.
const DeadLetterFile = "dead-letter.jsonl"

// idleWait bounds how long the loop sleeps on an empty spool without a notification.
const idleWait = time.Second

// loop delivers the spool until Close: peek a batch, send it, acknowledge it;
// on a retryable failure back off with full jitter and try again.
func (s *Sink) loop() {
	defer close(s.done)
	attempt := 0
	for s.ctx.Err() == nil {
		recs, err := s.spool.Peek(s.cfg.BatchSize)
		if err == nil && len(recs) == 0 {
			select {
			case <-s.closing:
				return // drained
			case <-s.ctx.Done():
				return
			case <-s.spool.Notify():
			case <-time.After(idleWait):
			}
			continue
		}
		if err == nil {
			err = s.deliver(recs)
		} else {
			s.metrics.failures.WithLabelValues(reasonSpool).Inc()
			err = fmt.Errorf("remotesink: read spool: %w", err)
		}
		if err == nil {
			attempt = 0
			continue
		}
		if s.ctx.Err() != nil {
			return
		}
		attempt++
		wait := s.backoff(attempt)
		s.log.LogAttrs(s.ctx, slog.LevelWarn, "audit delivery failed; retrying",
			slog.Int("attempt", attempt), slog.Duration("retry_in", wait), slog.String("error", err.Error()))
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// backoff returns a random delay in [0, min(MaxBackoff, MinBackoff*2^(attempt-1))] (full jitter).
func (s *Sink) backoff(attempt int) time.Duration {
	ceiling := s.cfg.MaxBackoff
	if attempt < 32 {
		ceiling = min(ceiling, s.cfg.MinBackoff<<(attempt-1))
	}
	return rand.N(ceiling + 1)
}

// deliver sends records (consecutive, from the latest Peek) and acknowledges
// them. A batch refused for its content is split until each poison record is
// alone, and that one is dead-lettered. It returns an error, possibly after
// acknowledging a prefix, when the rest should be retried later.
func (s *Sink) deliver(recs []spool.Record) error {
	for i, r := range recs {
		if r.Err != nil { // stored but undecodable: nothing will ever accept it
			if err := s.deliver(recs[:i]); err != nil {
				return err
			}
			if err := s.deadLetter(r, reasonInvalid, r.Err); err != nil {
				return err
			}
			return s.deliver(recs[i+1:])
		}
	}
	if len(recs) == 0 {
		return nil
	}
	events := make([]auditlog.Event, len(recs))
	for i, r := range recs {
		events[i] = r.Event
	}
	_, err := s.client.Append(s.ctx, events)
	if err == nil {
		if err := s.ack(recs[len(recs)-1]); err != nil {
			return err
		}
		s.metrics.delivered.Add(float64(len(recs)))
		return nil
	}
	if s.ctx.Err() != nil {
		return err // Close gave up waiting: not a delivery failure
	}
	reason := reasonOf(err)
	s.metrics.failures.WithLabelValues(reason).Inc()
	if reason != reasonInvalid && reason != reasonConflict && reason != reasonTooLarge {
		return err
	}
	if len(recs) == 1 {
		return s.deadLetter(recs[0], reason, err)
	}
	mid := len(recs) / 2
	if err := s.deliver(recs[:mid]); err != nil {
		return err
	}
	return s.deliver(recs[mid:])
}

// ack acknowledges every record up to r.
func (s *Sink) ack(r spool.Record) error {
	if err := s.spool.Ack(r.Seq); err != nil {
		s.metrics.failures.WithLabelValues(reasonSpool).Inc()
		return fmt.Errorf("remotesink: %w", err)
	}
	return nil
}

// reasonOf classifies a delivery failure for the failures metric.
func reasonOf(err error) string {
	var se *client.StatusError
	if !errors.As(err, &se) {
		return reasonNetwork
	}
	switch s := se.StatusCode; {
	case s >= 500:
		return reasonServer
	case s == http.StatusTooManyRequests:
		return reasonRateLimited
	case s == http.StatusUnauthorized, s == http.StatusForbidden:
		return reasonUnauthorized
	case s == http.StatusBadRequest:
		return reasonInvalid
	case s == http.StatusConflict:
		return reasonConflict
	case s == http.StatusRequestEntityTooLarge:
		return reasonTooLarge
	default:
		return reasonRejected
	}
}

// deadLetter sets a refused record aside in the dead-letter file (fsynced), then acknowledges it.
func (s *Sink) deadLetter(r spool.Record, reason string, cause error) error {
	line, err := json.Marshal(struct {
		Seq      uint64          `json:"seq"`
		Reason   string          `json:"reason"`
		Code     string          `json:"code"`
		Param    string          `json:"param,omitempty"`
		Message  string          `json:"message"`
		Appended time.Time       `json:"appended_at"`
		Event    json.RawMessage `json:"event"`
	}{r.Seq, reason, auditlog.ErrorCode(cause), auditlog.ErrorParam(cause), auditlog.ErrorMessage(cause), r.Appended, rawJSON(r.Raw)})
	if err != nil {
		return fmt.Errorf("remotesink: dead letter: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(s.cfg.Dir, DeadLetterFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("remotesink: dead letter: %w", err)
	}
	_, werr := f.Write(append(line, '\n'))
	serr := f.Sync()
	if err := errors.Join(werr, serr, f.Close()); err != nil {
		return fmt.Errorf("remotesink: dead letter: %w", err)
	}
	s.metrics.dead.Inc()
	level := slog.LevelError
	if reason == reasonConflict {
		level = slog.LevelWarn // the id is stored already, with other content: should not happen
	}
	s.log.LogAttrs(context.Background(), level, "audit event refused by the service; moved to the dead-letter file",
		slog.String("event_id", r.Event.ID), slog.String("action", r.Event.Action), slog.String("reason", reason),
		slog.String("code", auditlog.ErrorCode(cause)), slog.String("param", auditlog.ErrorParam(cause)),
		slog.String("file", DeadLetterFile))
	return s.ack(r)
}

// rawJSON keeps valid JSON as is and quotes anything else, so a dead-letter line always parses.
func rawJSON(b []byte) json.RawMessage {
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}
