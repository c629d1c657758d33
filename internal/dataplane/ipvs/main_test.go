package ipvs

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a Backend's goroutine (or a test's server)
// outlives the tests, in the guest as on the host.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
