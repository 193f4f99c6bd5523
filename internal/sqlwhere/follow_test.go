package sqlwhere

import (
	"testing"

	"github.com/guaracloud/auditlog"
)

func TestThrough(t *testing.T) {
	seqs := func(s ...int64) []auditlog.Entry {
		out := make([]auditlog.Entry, len(s))
		for i, v := range s {
			out[i].Seq = v
		}
		return out
	}
	for _, tc := range []struct {
		name        string
		entries     []auditlog.Entry
		after, head int64
		limit       int
		want        int64
	}{
		{"empty log", nil, -1, -1, 10, -1},
		{"nothing matches: the head", nil, 3, 40, 10, 40},
		{"full page: its last entry", seqs(5, 6, 7), 4, 90, 3, 7},
		{"short page: the head", seqs(5, 9), 4, 20, 10, 20},
		// Committed between the head read and the statement: returned, so
		// the next read must start after them, not re-read them.
		{"short page past the head: its last entry", seqs(19, 21, 22), 4, 20, 10, 22},
		{"behind the reader: afterSeq", nil, 50, 20, 10, 50},
	} {
		if got := Through(tc.entries, tc.after, tc.head, tc.limit); got != tc.want {
			t.Errorf("%s: Through = %d, want %d", tc.name, got, tc.want)
		}
	}
}
