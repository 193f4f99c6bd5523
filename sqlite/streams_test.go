package sqlite_test

import (
	"testing"

	"github.com/guaracloud/auditlog/storetest"
	"github.com/guaracloud/auditlog/stream"
)

func TestStreams(t *testing.T) {
	storetest.Streams(t, func(t *testing.T) stream.Store {
		s, _ := MustOpen(t)
		t.Cleanup(func() { s.Close() })
		return s
	})
}
