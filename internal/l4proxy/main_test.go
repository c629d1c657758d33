package l4proxy

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the proxy starts must end with Shutdown.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
