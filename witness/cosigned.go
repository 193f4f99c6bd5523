package witness

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"golang.org/x/mod/sumdb/note"
)

// MaxExportLag is how much older than the latest checkpoint the latest
// cosigned one may be for an export to use it: past that (witnesses down, or
// no longer configured) exports use the latest checkpoint, uncosigned.
const MaxExportLag = time.Minute

// Cosignatures is where cosignature lines are kept, per checkpoint size and
// witness name (the SQLite and PostgreSQL stores implement it).
type Cosignatures interface {
	// AddCosignature stores a line unless one by that witness is stored for
	// that size; it reports whether it stored it.
	AddCosignature(ctx context.Context, size uint64, witness, line string) (bool, error)
	// Cosignatures returns the lines stored for that size, by witness name.
	Cosignatures(ctx context.Context, size uint64) ([]string, error)
	// LatestCosigned returns the largest size with a stored line, or ENotFound.
	LatestCosigned(ctx context.Context) (uint64, error)
}

// Cosigned returns cp with the cosignature lines stored for its size
// appended to its note (extra signature lines, which a client knowing only
// our key skips). A log that keeps no cosignatures returns cp as it is.
func Cosigned(ctx context.Context, log integrity.Log, cp integrity.Checkpoint) (integrity.Checkpoint, error) {
	cs, ok := log.(Cosignatures)
	if !ok {
		return cp, nil
	}
	lines, err := cs.Cosignatures(ctx, cp.Size)
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("witness.Cosigned: %w", err)
	}
	cp.Note = AppendLines(cp.Note, lines)
	return cp, nil
}

// ForExport returns the checkpoint an export is made against, given the
// latest one: the latest cosigned checkpoint, with its cosignatures, unless
// there is none or it is more than MaxExportLag older than latest, in which
// case latest itself (with whatever cosignatures it has).
func ForExport(ctx context.Context, log integrity.Log, latest integrity.Checkpoint) (integrity.Checkpoint, error) {
	cs, ok := log.(Cosignatures)
	if !ok {
		return latest, nil
	}
	size, err := cs.LatestCosigned(ctx)
	if auditlog.ErrorCode(err) == auditlog.ENotFound || (err == nil && size >= latest.Size) {
		return Cosigned(ctx, log, latest)
	} else if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("witness.ForExport: %w", err)
	}
	cp, err := log.CheckpointAt(ctx, size)
	if err != nil {
		return integrity.Checkpoint{}, fmt.Errorf("witness.ForExport: %w", err)
	}
	if latest.CreatedAt.Sub(cp.CreatedAt) > MaxExportLag {
		return Cosigned(ctx, log, latest)
	}
	return Cosigned(ctx, log, cp)
}

// AppendLines appends signature lines to a signed note, skipping those it
// already holds.
func AppendLines(msg []byte, lines []string) []byte {
	if len(lines) == 0 {
		return msg
	}
	out := bytes.Clone(msg)
	sigs := msg[bytes.LastIndex(msg, []byte("\n\n"))+1:]
	for _, line := range lines {
		if line == "" || strings.Contains(line, "\n") || bytes.Contains(sigs, []byte("\n"+line+"\n")) {
			continue
		}
		out = append(out, line+"\n"...)
	}
	return out
}

// Count returns the names of the given witnesses whose cosignature on the
// signed checkpoint msg is valid, and of those without one, in the order given.
func Count(msg []byte, witnesses []note.Verifier) (cosigned, missing []string) {
	for _, v := range witnesses {
		if _, err := note.Open(msg, note.VerifierList(v)); err == nil {
			cosigned = append(cosigned, v.Name())
		} else {
			missing = append(missing, v.Name())
		}
	}
	return cosigned, missing
}

// Require checks that at least required of the given witnesses cosigned the
// signed checkpoint msg, and returns the names of those that did.
func Require(msg []byte, witnesses []note.Verifier, required int) ([]string, error) {
	cosigned, missing := Count(msg, witnesses)
	if len(cosigned) < required {
		return cosigned, fmt.Errorf("%d of the %d witnesses given cosigned the checkpoint, %d required (cosigned: %s; no valid cosignature: %s)",
			len(cosigned), len(witnesses), required, names(cosigned), names(missing))
	}
	return cosigned, nil
}

// names joins witness names for a message.
func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}
