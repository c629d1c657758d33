package l4proxy

import (
	"flag"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the proxy starts must end with Shutdown. The check is off
// while fuzzing, whose workers it would stall.
func TestMain(m *testing.M) {
	flag.Parse()
	if f := flag.Lookup("test.fuzz"); f != nil && f.Value.String() != "" {
		os.Exit(m.Run())
	}
	goleak.VerifyTestMain(m)
}
