package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apiConfig is a zone with n records and a target group; port is the
// group's port.
func apiConfig(n, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  admin: { listen: "127.0.0.1:0" }
zones:
  - { name: a }
target_groups:
  - name: web
    protocol: http
    port: %d
    targets: [{ address: 127.0.0.1, zone: a }]
hosted_zones:
  - name: example.test
    records:
`, port)
	for i := range n {
		fmt.Fprintf(&b, "      - { name: r%d.example.test, type: A, values: [192.0.2.%d] }\n", i, i+1)
	}
	return b.String()
}

// cli runs a client verb of the binary against p and returns its exit
// code, stdout and stderr.
func (p *proc) cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, switchboard(t), append(args, "--server", p.admin)...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return exitCode(err), out.String(), errb.String()
}

func (p *proc) mustCLI(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := p.cli(t, args...)
	if code != 0 {
		t.Fatalf("switchboard %s = exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

type historyEntry struct {
	Version uint64 `json:"version"`
	Source  string `json:"source"`
	Summary string `json:"summary"`
}

func (p *proc) history(t *testing.T) []historyEntry {
	t.Helper()
	var h []historyEntry
	if err := json.Unmarshal([]byte(p.mustCLI(t, "history", "-o", "json")), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// TestPlanApplyRollback runs plan, apply, the deletion budget, rollback and
// a restart through the real binary against a real server.
func TestPlanApplyRollback(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	data := filepath.Join(dir, "data")
	writeFile(t, cfg, apiConfig(7, 8081))
	p := start(t, cfg, data)
	p.waitFor(t, "version 1", func(s status) bool { return s.ViewVersion == 1 })

	// Plan: a changed port and a new record, grouped and field by field.
	next := filepath.Join(dir, "next.yaml")
	writeFile(t, next, apiConfig(8, 8082))
	out := p.mustCLI(t, "plan", next)
	for _, want := range []string{"records:\n  + example.test./r7.example.test./A/", "target groups:\n  ~ web\n      port: 8081 → 8082", "Plan: 1 to add, 1 to change, 0 to delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("plan output lacks %q:\n%s", want, out)
		}
	}
	out = p.mustCLI(t, "apply", next)
	if !strings.Contains(out, "Applied: version 2 (was 1).") {
		t.Errorf("apply output:\n%s\nwant version 2", out)
	}
	if out := p.mustCLI(t, "plan", next); !strings.Contains(out, "No changes") {
		t.Errorf("plan after apply:\n%s\nwant no changes", out)
	}

	// The budget: deleting 8 records is refused by the client, then by the
	// server when the client's budget is raised, then allowed.
	empty := filepath.Join(dir, "empty.yaml")
	writeFile(t, empty, apiConfig(0, 8082))
	code, _, errs := p.cli(t, "apply", empty)
	if code != 1 || !strings.Contains(errs, "deletes 8 records, target groups and load balancers, more than --max-deletes 5") {
		t.Errorf("apply of 8 deletions = exit %d, stderr:\n%s\nwant refused by the client", code, errs)
	}
	code, _, errs = p.cli(t, "apply", empty, "--max-deletes", "100")
	if code != 1 || !strings.Contains(errs, "more than the budget of 5") || !strings.Contains(errs, "[mass_delete]") {
		t.Errorf("apply with --max-deletes 100 = exit %d, stderr:\n%s\nwant refused by the server", code, errs)
	}
	if h := p.history(t); h[0].Version != 2 {
		t.Fatalf("history after refusals = %+v, want still version 2", h)
	}
	out = p.mustCLI(t, "apply", empty, "--allow-mass-delete")
	if !strings.Contains(out, "Applied: version 3") || !strings.Contains(out, "Plan: 0 to add, 0 to change, 8 to delete.") {
		t.Errorf("allowed mass delete:\n%s", out)
	}

	// Rollback to 2 is a new version 4 with version 2's state.
	out = p.mustCLI(t, "rollback", "2")
	if !strings.Contains(out, "Version 4 (was 3): rollback to 2: ") {
		t.Errorf("rollback output:\n%s", out)
	}
	if out := p.mustCLI(t, "plan", next); !strings.Contains(out, "No changes") {
		t.Errorf("plan of version 2's file after rollback:\n%s\nwant no changes", out)
	}
	if h := p.history(t); len(h) != 4 || h[0].Source != "rollback" || h[1].Source != "apply" || h[3].Source != "file" {
		t.Errorf("history = %+v, want rollback, apply, apply, file", h)
	}
	var rec []map[string]any
	if err := json.Unmarshal([]byte(p.mustCLI(t, "get", "records", "example.test", "-o", "json")), &rec); err != nil || len(rec) != 8 {
		t.Errorf("records after rollback = %d (%v), want 8", len(rec), err)
	}

	// Ask the live view, and read resources as tables.
	p.waitFor(t, "version 4", func(s status) bool { return s.ViewVersion == 4 })
	if out := p.mustCLI(t, "answer", "r7.example.test", "A", "--client", "192.0.2.55"); !strings.Contains(out, "NOERROR") || !strings.Contains(out, "192.0.2.8") {
		t.Errorf("answer r7:\n%s\nwant NOERROR with 192.0.2.8", out)
	}
	if out := p.mustCLI(t, "get", "tg"); !strings.Contains(out, "web   http      8082") {
		t.Errorf("get tg:\n%s\nwant web on 8082", out)
	}
	if out := p.mustCLI(t, "describe", "target_group", "web"); !strings.HasPrefix(out, "name: web\nprotocol: http\nport: 8082\n") {
		t.Errorf("describe target_group web:\n%s", out)
	}

	// API changes survive a restart with the unchanged file; an edited file
	// wins and the log says what it replaced.
	p.mustCLI(t, "shift", "start", "--target-group", "web", "--away-from", "a", "--expires-in", "1h")
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	p = start(t, cfg, data)
	p.waitFor(t, "version 5", func(s status) bool { return s.ViewVersion == 5 })
	if out := p.mustCLI(t, "shift", "list"); !strings.Contains(out, "target_group/web") {
		t.Errorf("shifts after restart:\n%s\nwant the shift made through the API", out)
	}
	writeFile(t, cfg, apiConfig(1, 8081))
	p.waitFor(t, "the edited file applied", func(s status) bool { return s.ViewVersion == 6 })
	if log := p.logText(); !strings.Contains(log, "replaces changes made since it was last applied") || !strings.Contains(log, `replaced_versions="2(apply by local) 3(apply by local) 4(rollback by local) 5(api by local)"`) {
		t.Errorf("log lacks the replaced API changes:\n%s", log)
	}
}
