package remotesink_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no delivery loop outlives its sink (idle HTTP keep-alive connections aside).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}
