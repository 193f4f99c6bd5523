package spool

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/guaracloud/auditlog"
)

// Record is one spooled event as the consumer reads it.
type Record struct {
	Seq      uint64         // position in the spool, increasing (with gaps after a damaged segment)
	Appended time.Time      // when Append wrote it
	Event    auditlog.Event // the event (numbers in metadata as json.Number)
	Raw      []byte         // the event's JSON as stored
	Err      error          // set when Raw does not decode into an Event: a poison record to set aside
}

// ErrNotPeeked is returned by Ack for a seq the latest Peek did not return.
var ErrNotPeeked = errors.New("spool: ack of a record the latest Peek did not return")

// Peek returns up to max of the oldest durable unacknowledged records,
// without consuming them: the same records come back until acknowledged.
func (s *Spool) Peek(max int) ([]Record, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, fmt.Errorf("spool.Peek: %w", ErrClosed)
	}
	pos, synced := s.pos, s.synced
	segs := make([]segment, 0, len(s.segs))
	for _, seg := range s.segs {
		if seg.base >= pos.base {
			segs = append(segs, *seg)
		}
	}
	s.mu.Unlock()

	s.peeked = s.peeked[:0]
	var out []Record
	for i, seg := range segs {
		if len(out) >= max || pos.seq >= synced {
			break
		}
		off, seq := pos.off, pos.seq
		if i > 0 {
			off, seq = 0, seg.base
		}
		if seq >= seg.base+seg.count {
			continue
		}
		recs, err := s.readSegment(seg, off, seq, min(seg.base+seg.count, synced), max-len(out))
		if err != nil {
			return nil, fmt.Errorf("spool.Peek: %w", err)
		}
		out = append(out, recs...)
	}
	return out, nil
}

// readSegment reads records from seg starting at off (the record seq), up to
// but excluding seq end, at most n of them.
func (s *Spool) readSegment(seg segment, off int64, seq, end uint64, n int) ([]Record, error) {
	f, err := os.Open(seg.path)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(io.NewSectionReader(f, off, seg.size-off), 64<<10)
	var out []Record
	var header [headerSize]byte
	for ; seq < end && len(out) < n; seq++ {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return nil, fmt.Errorf("read segment %s: %w", segmentName(seg.base), err)
		}
		size := headerSize + int(uint32(header[0])|uint32(header[1])<<8|uint32(header[2])<<16|uint32(header[3])<<24)
		if size > MaxRecordBytes {
			return nil, fmt.Errorf("read segment %s: %w", segmentName(seg.base), errCorrupt)
		}
		buf := make([]byte, size)
		copy(buf, header[:])
		if _, err := io.ReadFull(r, buf[headerSize:]); err != nil {
			return nil, fmt.Errorf("read segment %s: %w", segmentName(seg.base), err)
		}
		appended, raw, _, err := decodeRecord(buf)
		if err != nil {
			return nil, fmt.Errorf("read segment %s: %w", segmentName(seg.base), err)
		}
		rec := Record{Seq: seq, Appended: appended, Raw: raw}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&rec.Event); err != nil {
			rec.Err = fmt.Errorf("decode event: %w", err)
		}
		out = append(out, rec)
		off += int64(size)
		s.peeked = append(s.peeked, peekMark{seq: seq, base: seg.base, end: off, size: int64(size)})
	}
	return out, nil
}

// Ack acknowledges every record up to and including seq upTo, which the
// latest Peek returned: the position is persisted (fsynced) before Ack
// returns, then fully acknowledged segments are deleted.
func (s *Spool) Ack(upTo uint64) error {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	i := -1
	var freed int64
	for j, m := range s.peeked {
		freed += m.size
		if m.seq == upTo {
			i = j
			break
		}
	}
	if i < 0 {
		return fmt.Errorf("spool.Ack: %w", ErrNotPeeked)
	}
	mark := s.peeked[i]
	if _, err := s.ackFile.WriteAt(encodeAck(upTo+1), 0); err != nil {
		return fmt.Errorf("spool.Ack: write ack: %w", err)
	}
	if err := s.ackFile.Sync(); err != nil {
		return fmt.Errorf("spool.Ack: sync ack: %w", err)
	}
	s.peeked = append(s.peeked[:0], s.peeked[i+1:]...)

	s.mu.Lock()
	s.pos = position{seq: upTo + 1, base: mark.base, off: mark.end}
	s.depth -= int64(i + 1)
	s.bytes -= freed
	var drop []string
	keep := s.segs[:0]
	for j, seg := range s.segs {
		if j < len(s.segs)-1 && seg.base+seg.count <= s.pos.seq {
			drop = append(drop, seg.path)
			continue
		}
		keep = append(keep, seg)
	}
	clear(s.segs[len(keep):])
	s.segs = keep
	if first := s.segs[0]; first.base > s.pos.base {
		s.pos = position{seq: max(s.pos.seq, first.base), base: first.base}
	}
	s.mu.Unlock()

	for _, path := range drop {
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("spool.Ack: remove segment: %w", err)
		}
	}
	if len(drop) > 0 {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("spool.Ack: %w", err)
		}
	}
	return nil
}

// Oldest returns when the oldest unacknowledged record was appended, and false when there is none.
func (s *Spool) Oldest() (time.Time, bool) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.mu.Lock()
	if s.closed || s.depth == 0 {
		s.mu.Unlock()
		return time.Time{}, false
	}
	pos := s.pos
	var seg segment
	for _, sg := range s.segs {
		if sg.base+sg.count > pos.seq {
			seg = *sg
			break
		}
	}
	s.mu.Unlock()
	off := pos.off
	if seg.base != pos.base {
		off = 0
	}
	f, err := os.Open(seg.path)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	var b [headerSize + stampSize]byte
	if _, err := f.ReadAt(b[:], off); err != nil {
		return time.Time{}, false
	}
	ns := int64(0)
	for k := 7; k >= 0; k-- {
		ns = ns<<8 | int64(b[headerSize+k])
	}
	return time.Unix(0, ns), true
}
