package witness

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/mod/sumdb/note"
)

// maxResponse bounds what is read of a witness's answer.
const maxResponse = 64 << 10

// Failure reasons, the reason label of auditlog_witness_failures_total.
const (
	ReasonBadProof       = "bad_proof"       // 422: the witness rejected our consistency proof (a fork, or its state is not ours)
	ReasonUnknownKey     = "unknown_key"     // 403: the witness does not know our key for this origin
	ReasonUnknownLog     = "unknown_log"     // 404: the witness does not know our origin
	ReasonBadRequest     = "bad_request"     // 400: the witness could not read our request
	ReasonConflict       = "conflict"        // 409 again after retrying from the size it holds
	ReasonWitnessAhead   = "witness_ahead"   // the witness holds a larger tree than our latest checkpoint
	ReasonBadCosignature = "bad_cosignature" // the answer holds no valid cosignature by the configured key
	ReasonUnavailable    = "unavailable"     // network error, timeout or a 5xx
	ReasonStore          = "store"           // our own store failed (reading the checkpoint or proof, keeping the cosignature)
)

// ConflictError is a 409 answer: the witness holds a tree of Size leaves for
// our origin, not the old size we sent.
type ConflictError struct{ Size uint64 }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("the witness holds tree size %d, not the old size sent", e.Size)
}

// RejectedError is an answer refusing the checkpoint, with its reason.
type RejectedError struct {
	Status int    // HTTP status, 0 when the answer was not HTTP-level
	Reason string // one of the Reason constants
	Detail string // the witness's message, trimmed and made printable
}

func (e *RejectedError) Error() string {
	if e.Status == 0 {
		return fmt.Sprintf("witness: %s: %s", e.Reason, e.Detail)
	}
	return fmt.Sprintf("witness answered %d (%s): %s", e.Status, e.Reason, e.Detail)
}

// Client speaks C2SP tlog-witness to one witness.
type Client struct {
	Witness Witness
	HTTP    *http.Client // nil for http.DefaultClient
}

// AddCheckpoint submits a signed checkpoint with the consistency proof from
// the tree of oldSize leaves (none when oldSize is 0) and returns the
// witness's cosignature line ("— name base64", no newline), verified with
// its key. A 409 is a *ConflictError; a refusal is a *RejectedError.
func (c *Client) AddCheckpoint(ctx context.Context, oldSize uint64, proof [][]byte, signed []byte) (string, error) {
	var body bytes.Buffer
	fmt.Fprintf(&body, "old %d\n", oldSize)
	for _, h := range proof {
		body.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	body.WriteString("\n")
	body.Write(signed)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Witness.URL+"/add-checkpoint", &body)
	if err != nil {
		return "", fmt.Errorf("witness.AddCheckpoint: %w", err)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("witness.AddCheckpoint: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return "", fmt.Errorf("witness.AddCheckpoint: read the answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return c.cosignature(signed, answer)
	case http.StatusConflict:
		size, perr := strconv.ParseUint(strings.TrimSpace(string(answer)), 10, 64)
		if perr != nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/x.tlog.size") {
			return "", &RejectedError{Status: resp.StatusCode, Reason: ReasonConflict, Detail: "a 409 without a text/x.tlog.size tree size"}
		}
		return "", &ConflictError{Size: size}
	}
	reason := ReasonUnavailable
	switch resp.StatusCode {
	case http.StatusUnprocessableEntity:
		reason = ReasonBadProof
	case http.StatusForbidden:
		reason = ReasonUnknownKey
	case http.StatusNotFound:
		reason = ReasonUnknownLog
	case http.StatusBadRequest:
		reason = ReasonBadRequest
	}
	return "", &RejectedError{Status: resp.StatusCode, Reason: reason, Detail: printable(answer)}
}

// cosignature picks the witness's signature line out of a 200 answer and
// checks it over the checkpoint's body.
func (c *Client) cosignature(signed, answer []byte) (string, error) {
	v := c.Witness.Verifier
	n, err := note.Open(signed, unknown{})
	var text string
	var unverified *note.UnverifiedNoteError
	if errors.As(err, &unverified) {
		text = unverified.Note.Text
	} else if err == nil {
		text = n.Text
	} else {
		return "", fmt.Errorf("witness.AddCheckpoint: our checkpoint: %w", err)
	}
	for _, line := range strings.Split(string(answer), "\n") {
		if !isLineOf(line, v) {
			continue
		}
		if _, err := note.Open([]byte(text+"\n"+line+"\n"), note.VerifierList(v)); err == nil {
			return line, nil
		}
	}
	return "", &RejectedError{Reason: ReasonBadCosignature, Detail: "the answer holds no valid cosignature by " + v.Name()}
}

// isLineOf reports whether a signature line names the verifier's key.
func isLineOf(line string, v note.Verifier) bool {
	rest, ok := strings.CutPrefix(line, "— "+v.Name()+" ")
	if !ok {
		return false
	}
	sig, err := base64.StdEncoding.DecodeString(rest)
	return err == nil && len(sig) >= 4 && binary.BigEndian.Uint32(sig) == v.KeyHash()
}

// unknown is a verifier list knowing no key: opening a note with it yields
// the note's text, unverified.
type unknown struct{}

func (unknown) Verifier(name string, hash uint32) (note.Verifier, error) {
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}

// printable shortens a witness's message and drops control characters, for logs.
func printable(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
}
