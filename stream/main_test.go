package stream_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: runners, workers,
// senders and receivers all stop.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
