//go:build linux

package ipvs

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// TestNewWithoutIPVS checks that a kernel without IPVS is reported as such,
// so that serve can say why the backend cannot run. It runs where the
// kernel has no IPVS (this project's CI hosts); TestKernel covers the rest.
func TestNewWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS")
	}
	b, err := New(Config{})
	if err == nil {
		b.Close()
		t.Fatal("New() on a kernel without IPVS = nil error")
	}
	if !errors.Is(err, errNoIPVS) || !strings.Contains(err.Error(), "ip_vs module") {
		t.Errorf("New() = %v, want %v", err, errNoIPVS)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	if _, err := New(Config{Scheduler: "fastest"}); err == nil || !strings.Contains(err.Error(), `scheduler "fastest"`) {
		t.Errorf("New(scheduler fastest) = %v, want a scheduler error", err)
	}
}
