package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// appendProofLine appends one proofs.jsonl line: {"seq":n,"hashes":["base64",...]}.
func appendProofLine(dst []byte, seq int64, hashes [][]byte) []byte {
	dst = append(dst, `{"seq":`...)
	dst = strconv.AppendInt(dst, seq, 10)
	dst = append(dst, `,"hashes":[`...)
	for i, h := range hashes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, h)
		dst = append(dst, '"')
	}
	return append(dst, "]}\n"...)
}

// entrySeq returns the seq of an entries.jsonl line (without its newline).
// Canonical entries start {"id":"...","seq":N, and are read without a JSON
// decoder; any other JSON object is decoded.
func entrySeq(line []byte) (int64, error) {
	const head = `{"id":"`
	if rest, ok := bytes.CutPrefix(line, []byte(head)); ok {
		if q := bytes.IndexByte(rest, '"'); q >= 0 && bytes.IndexByte(rest[:q], '\\') < 0 {
			if n, rest, ok := cutInt(rest[q+1:], `,"seq":`); ok && len(rest) > 0 && (rest[0] == ',' || rest[0] == '}') {
				return n, nil
			}
		}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return 0, fmt.Errorf("not a JSON object: %w", err)
	}
	var seq int64
	if err := json.Unmarshal(m["seq"], &seq); err != nil || m["seq"] == nil {
		return 0, errors.New("no integer seq")
	}
	return seq, nil
}

// parseProofLine returns the seq and the base64 hashes (slices of line, or
// of a decoded copy) of a proofs.jsonl line (without its newline). Lines in
// the form this package writes are split without a JSON decoder.
func parseProofLine(line []byte, hashes [][]byte) (int64, [][]byte, error) {
	hashes = hashes[:0]
	if seq, rest, ok := cutInt(line, `{"seq":`); ok {
		if rest, ok := bytes.CutPrefix(rest, []byte(`,"hashes":[`)); ok {
			if out, ok := splitHashes(rest, hashes); ok {
				return seq, out, nil
			}
			if out, ok := splitStrings(rest, hashes[:0]); ok {
				return seq, out, nil
			}
		}
	}
	var p struct {
		Seq    *int64   `json:"seq"`
		Hashes []string `json:"hashes"`
	}
	if err := json.Unmarshal(line, &p); err != nil {
		return 0, nil, fmt.Errorf("not a proof line: %w", err)
	}
	if p.Seq == nil || p.Hashes == nil {
		return 0, nil, errors.New(`not a proof line: want {"seq": n, "hashes": [...]}`)
	}
	for _, h := range p.Hashes {
		hashes = append(hashes, []byte(h))
	}
	return *p.Seq, hashes, nil
}

// b64Hash is the length of a SHA-256 hash in base64, and hashStride the
// length of one quoted hash and its comma in the form this package writes.
const (
	b64Hash    = 44
	hashStride = b64Hash + 3
)

// splitHashes splits `"h1","h2"]}` when every string is a 44-character
// hash, by position alone (the hot path of verification). Characters inside
// the strings are checked when a hash is decoded; a hash that never is was
// compared byte for byte with one of a previous, verified proof.
func splitHashes(b []byte, out [][]byte) ([][]byte, bool) {
	n := len(b) - 2
	if n < 0 || b[n] != ']' || b[n+1] != '}' || (n+1)%hashStride != 0 {
		return nil, false
	}
	for i := 0; i < n; i += hashStride {
		if b[i] != '"' || b[i+b64Hash+1] != '"' || (i+hashStride < n && b[i+hashStride-1] != ',') {
			return nil, false
		}
		out = append(out, b[i+1:i+1+b64Hash])
	}
	return out, true
}

// splitStrings splits `"a","b"]}` into its strings, which must hold no escapes.
func splitStrings(b []byte, out [][]byte) ([][]byte, bool) {
	if bytes.Equal(b, []byte("]}")) {
		return out, true
	}
	for {
		if len(b) == 0 || b[0] != '"' {
			return nil, false
		}
		q := bytes.IndexByte(b[1:], '"')
		if q < 0 || bytes.IndexByte(b[1:1+q], '\\') >= 0 {
			return nil, false
		}
		out = append(out, b[1:1+q])
		b = b[2+q:]
		switch {
		case len(b) > 0 && b[0] == ',':
			b = b[1:]
		case bytes.Equal(b, []byte("]}")):
			return out, true
		default:
			return nil, false
		}
	}
}

// cutInt strips prefix and a non-negative decimal integer from b.
func cutInt(b []byte, prefix string) (int64, []byte, bool) {
	b, ok := bytes.CutPrefix(b, []byte(prefix))
	if !ok {
		return 0, nil, false
	}
	i := 0
	for i < len(b) && i < 19 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, nil, false
	}
	n, err := strconv.ParseInt(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	return n, b[i:], true
}

// decodeHash decodes one base64 hash of a proof into dst (32 bytes).
func decodeHash(dst, src []byte) error {
	if len(src) != base64.StdEncoding.EncodedLen(len(dst)) {
		return fmt.Errorf("%q is not a base64 SHA-256 hash", src)
	}
	var buf [48]byte
	n, err := base64.StdEncoding.Strict().Decode(buf[:], src)
	if err != nil || n != len(dst) {
		return fmt.Errorf("%q is not a base64 SHA-256 hash", src)
	}
	copy(dst, buf[:n])
	return nil
}

// rawHash is the decode function for proofs held as raw 32-byte hashes.
func rawHash(dst, src []byte) error {
	if len(src) != len(dst) {
		return fmt.Errorf("hash of %d bytes", len(src))
	}
	copy(dst, src)
	return nil
}
