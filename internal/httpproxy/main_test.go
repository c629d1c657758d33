package httpproxy

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves a goroutine behind: every listener,
// pooled connection and upgraded stream ends with Shutdown.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
