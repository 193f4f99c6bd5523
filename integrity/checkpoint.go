package integrity

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// OriginPrefix starts every log's origin; a random id kept in the database
// follows it, so the origin is stable for the life of one database.
const OriginPrefix = "auditlog.guara.cloud/log/"

// Checkpoint is a signed tree head: a C2SP tlog-checkpoint body
// (origin\nsize\nbase64(root)\n) in a C2SP signed note, Ed25519-signed.
type Checkpoint struct {
	Size      uint64
	Root      []byte
	Note      []byte    // the signed note exactly as served: body, blank line, signature lines
	CreatedAt time.Time // when it was signed
}

// Head returns the checkpoint's size and root.
func (c Checkpoint) Head() Head { return Head{Size: c.Size, Root: c.Root} }

// CheckpointBody returns the C2SP tlog-checkpoint body of a tree head.
func CheckpointBody(origin string, h Head) string {
	return origin + "\n" + strconv.FormatUint(h.Size, 10) + "\n" + base64.StdEncoding.EncodeToString(h.Root) + "\n"
}

// ParseCheckpointBody reads a tlog-checkpoint body: origin, size and root
// lines; extension lines after them are allowed and ignored.
func ParseCheckpointBody(text string) (string, Head, error) {
	bad := func(format string, args ...any) (string, Head, error) {
		return "", Head{}, fmt.Errorf("parse checkpoint: "+format, args...)
	}
	if !strings.HasSuffix(text, "\n") {
		return bad("the body must end with a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return bad("want origin, size and root lines, have %d lines", len(lines))
	}
	origin, sizeText, rootText := lines[0], lines[1], lines[2]
	if origin == "" {
		return bad("empty origin")
	}
	size, err := strconv.ParseUint(sizeText, 10, 64)
	if err != nil || (len(sizeText) > 1 && sizeText[0] == '0') {
		return bad("size %q is not a decimal number", sizeText)
	}
	root, err := base64.StdEncoding.Strict().DecodeString(rootText)
	if err != nil || len(root) != HashSize {
		return bad("root %q is not a base64 SHA-256 hash", rootText)
	}
	return origin, Head{Size: size, Root: root}, nil
}

// SignCheckpoint signs the tree head h of the log named origin.
func SignCheckpoint(k *Key, origin string, h Head, now time.Time) (Checkpoint, error) {
	msg, err := k.Sign(CheckpointBody(origin, h))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("sign checkpoint: %w", err)
	}
	return Checkpoint{Size: h.Size, Root: bytes.Clone(h.Root), Note: msg, CreatedAt: now.UTC()}, nil
}

// OpenCheckpoint verifies a signed checkpoint with the verifier key and
// returns its origin and tree head.
func OpenCheckpoint(msg []byte, v note.Verifier) (string, Checkpoint, error) {
	text, err := OpenNote(msg, v)
	if err != nil {
		return "", Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	origin, h, err := ParseCheckpointBody(text)
	if err != nil {
		return "", Checkpoint{}, err
	}
	return origin, Checkpoint{Size: h.Size, Root: h.Root, Note: msg}, nil
}

// CheckpointOrigin returns the origin line of a signed checkpoint, without
// verifying its signature.
func CheckpointOrigin(msg []byte) string {
	origin, _, _ := strings.Cut(string(msg), "\n")
	return origin
}

// OpenNote verifies a signed note with the verifier key and returns its text.
func OpenNote(msg []byte, v note.Verifier) (string, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return "", explainNote(err, v)
	}
	return n.Text, nil
}

// explainNote turns note.Open's errors into messages that say what to check.
func explainNote(err error, v note.Verifier) error {
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified):
		var names []string
		for _, s := range unverified.Note.UnverifiedSigs {
			names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
		}
		return fmt.Errorf("no signature by key %s+%08x (signed by %s): %w", v.Name(), v.KeyHash(), strings.Join(names, ", "), err)
	case errors.As(err, &invalid):
		return fmt.Errorf("the signature by %s does not match the text (altered after signing): %w", v.Name(), err)
	}
	return err
}
