package view_test

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const viewPkg = "github.com/switchboard/switchboard/internal/view"

// banned are packages internal/view must not link: a view is computed from
// data, and neither it nor its tests need sockets, processes or storage.
var banned = []string{
	"net", // the package itself; net/netip is fine
	"net/http",
	"os/exec",
	"github.com/miekg/dns",
	"go.etcd.io/bbolt",
}

// knownEdges are imports that break the fence today, each with why, so that
// the test fails on any new breach and reports an edge that is gone (then
// delete it here). internal/model validates record data with dns.NewRR,
// which links miekg/dns and through it net, crypto/tls and golang.org/x/net
// into everything that imports the model. The fix belongs in internal/model.
var knownEdges = map[[2]string]string{
	{"github.com/switchboard/switchboard/internal/model", "github.com/miekg/dns"}: "model/validate_dns.go: dns.NewRR checks record values",
}

// TestDeps fences internal/view off the network packages, os/exec and
// storage (STYLE.md §7, "Dependency fences").
func TestDeps(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skipf("no go tool: %v", err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", ".").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("go list -deps . = %v\n%s", err, ee.Stderr)
		}
		t.Fatalf("go list -deps . = %v", err)
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) > 0 {
			imports[f[0]] = f[1:]
		}
	}
	if _, ok := imports[viewPkg]; !ok {
		t.Fatalf("go list -deps . does not list %s itself", viewPkg)
	}

	for edge, why := range knownEdges {
		if !slices.Contains(imports[edge[0]], edge[1]) {
			t.Errorf("known fence breach %s -> %s (%s) is gone: delete it from knownEdges", edge[0], edge[1], why)
		}
	}
	// What the view links, and how, without the known breaches.
	path := func(skipKnown bool) map[string][]string {
		via := map[string][]string{viewPkg: {viewPkg}}
		queue := []string{viewPkg}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			for _, q := range imports[p] {
				if _, known := knownEdges[[2]string{p, q}]; (known && skipKnown) || via[q] != nil {
					continue
				}
				via[q] = append(slices.Clip(via[p]), q)
				queue = append(queue, q)
			}
		}
		return via
	}
	all, fenced := path(false), path(true)
	for _, b := range banned {
		if chain := fenced[b]; chain != nil {
			t.Errorf("internal/view links %s: %s", b, strings.Join(chain, " -> "))
		} else if chain := all[b]; chain != nil {
			t.Logf("internal/view links %s through a known breach: %s", b, strings.Join(chain, " -> "))
		}
	}
}
