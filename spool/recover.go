package spool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// recover rebuilds the spool's state from its directory: it reads the ack,
// scans every segment, cuts each at its first damaged or incomplete record,
// deletes fully acknowledged segments and opens the last one for appending.
func (s *Spool) recover() error {
	ackPath := filepath.Join(s.dir, "ack")
	raw, err := os.ReadFile(ackPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read ack: %w", err)
	}
	ack, ok := decodeAck(raw)
	if !ok && len(raw) > 0 {
		s.log.Warn("spool: damaged ack file; acknowledged records will be delivered again", "dir", s.dir)
	}
	if s.ackFile, err = os.OpenFile(ackPath, os.O_CREATE|os.O_RDWR, 0o600); err != nil {
		return fmt.Errorf("open ack: %w", err)
	}

	bases, err := listSegments(s.dir)
	if err != nil {
		return err
	}
	found := false
	for i, base := range bases {
		seg, err := s.scan(base, ack, i == len(bases)-1)
		if err != nil {
			return err
		}
		if n := len(s.segs); n > 0 && base < s.segs[n-1].base+s.segs[n-1].count {
			return fmt.Errorf("segment %s overlaps the one before it", segmentName(base))
		}
		if !found && seg.ackOff < seg.size {
			found = true
			s.pos = position{seq: seg.ackSeq, base: base, off: seg.ackOff}
		}
		s.segs = append(s.segs, &seg.segment)
		s.next = seg.base + seg.count
	}
	s.next = max(s.next, ack)
	if len(s.segs) == 0 {
		s.pos = position{seq: s.next, base: s.next}
		return s.create(s.next)
	}
	last := s.segs[len(s.segs)-1]
	if !found {
		s.pos = position{seq: s.next, base: last.base, off: last.size}
	}

	// Drop the segments that hold nothing unacknowledged, keeping the last to append to.
	keep := s.segs[:0]
	for _, seg := range s.segs {
		if seg != last && seg.base+seg.count <= s.pos.seq {
			if err := os.Remove(seg.path); err != nil {
				return fmt.Errorf("remove acknowledged segment: %w", err)
			}
			continue
		}
		keep = append(keep, seg)
	}
	s.segs = keep
	if s.active, err = os.OpenFile(last.path, os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return fmt.Errorf("open segment: %w", err)
	}
	s.synced = s.next
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}

// listSegments returns the bases of the segment files in dir, ascending.
func listSegments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list segments: %w", err)
	}
	var bases []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".seg")
		if !ok || e.IsDir() || len(name) != 16 {
			continue
		}
		base, err := strconv.ParseUint(name, 16, 64)
		if err != nil {
			continue
		}
		bases = append(bases, base)
	}
	slices.Sort(bases)
	return bases, nil
}

// scanned is a segment after recovery, with the offset of the first record at or after the ack.
type scanned struct {
	segment
	ackOff int64  // offset of the first unacknowledged record (size when none)
	ackSeq uint64 // its seq
}

// scan reads a segment, counts its records and the unacknowledged ones, and
// truncates it (durably) at the first record that does not decode.
func (s *Spool) scan(base, ack uint64, last bool) (scanned, error) {
	path := filepath.Join(s.dir, segmentName(base))
	data, err := os.ReadFile(path)
	if err != nil {
		return scanned{}, fmt.Errorf("read segment: %w", err)
	}
	seg := scanned{segment: segment{base: base, path: path}, ackOff: -1}
	off := 0
	for off < len(data) {
		_, _, size, err := decodeRecord(data[off:])
		if err != nil {
			level := slog.LevelWarn
			if last && errors.Is(err, errTruncated) {
				level = slog.LevelInfo // a crash mid-append: that record was never acknowledged
			}
			s.log.Log(context.Background(), level, "spool: dropping the damaged tail of a segment",
				"segment", segmentName(base), "offset", off, "bytes", len(data)-off, "reason", err.Error())
			if err := truncate(path, int64(off)); err != nil {
				return scanned{}, err
			}
			break
		}
		seq := base + seg.count
		if seq >= ack {
			if seg.ackOff < 0 {
				seg.ackOff, seg.ackSeq = int64(off), seq
			}
			s.depth++
			s.bytes += int64(size)
		}
		seg.count++
		off += size
	}
	seg.size = int64(off)
	if seg.ackOff < 0 {
		seg.ackOff = seg.size
	}
	return seg, nil
}

// truncate cuts a file to size and makes that durable.
func truncate(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("truncate segment: %w", err)
	}
	return nil
}
