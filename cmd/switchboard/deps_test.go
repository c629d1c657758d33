package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestBinaryDoesNotLinkTesting keeps test helpers out of the shipped binary.
func TestBinaryDoesNotLinkTesting(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("the go tool is not on PATH")
	}
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, banned := range []string{"testing", "github.com/google/go-cmp/cmp", "go.uber.org/goleak"} {
		if slices.Contains(deps, banned) {
			t.Errorf("cmd/switchboard links %s", banned)
		}
	}
	if !slices.Contains(deps, "github.com/switchboard/switchboard/internal/server") {
		t.Errorf("go list -deps . = %d packages without internal/server; the fence test is looking at the wrong thing", len(deps))
	}
}
