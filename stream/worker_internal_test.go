package stream

import (
	"strings"
	"testing"

	"github.com/guaracloud/auditlog"
)

func TestBytesCut(t *testing.T) {
	e := func(n int) auditlog.Entry { return auditlog.Entry{Canonical: []byte(strings.Repeat("x", n))} }
	for _, c := range []struct {
		sizes []int
		max   int
		want  int
	}{
		{nil, 10, 0},
		{[]int{20}, 10, 1}, // one entry at least
		{[]int{4, 4, 4}, 10, 2},
		{[]int{5, 5}, 10, 2},
		{[]int{5, 5, 1}, 10, 2},
		{[]int{1, 1, 1}, 10, 3},
	} {
		var es []auditlog.Entry
		for _, n := range c.sizes {
			es = append(es, e(n))
		}
		if got := bytesCut(es, c.max); got != c.want {
			t.Errorf("sizes %v max %d: %d, want %d", c.sizes, c.max, got, c.want)
		}
	}
}
