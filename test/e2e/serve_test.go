// Package e2e runs the real switchboard binary as users do: a child
// process, real files, real signals, real HTTP on loopback.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is built once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func switchboard(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		out, err := exec.Command("go", "build", "-race", "-o", binPath, "../../cmd/switchboard").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running `switchboard serve`.
type proc struct {
	cmd   *exec.Cmd
	admin string // http://host:port of the admin listener
	done  chan error
	mu    sync.Mutex
	log   strings.Builder
}

var adminAddr = regexp.MustCompile(`msg="admin listener" addr=(\S+)`)

// start runs serve on config and waits for the admin listener.
func start(t *testing.T, config, dataDir string) *proc {
	t.Helper()
	cmd := exec.Command(switchboard(t), "serve", "--config", config, "--data-dir", dataDir, "--log-level", "debug")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := adminAddr.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("switchboard log:\n%s", p.logText())
		}
	})
	select {
	case a := <-addr:
		p.admin = "http://" + a
	case err := <-p.done:
		t.Fatalf("serve exited before listening: %v\n%s", err, p.logText())
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start listening within 30s\n%s", p.logText())
	}
	return p
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

type status struct {
	DesiredVersion uint64 `json:"desired_version"`
	ViewVersion    uint64 `json:"view_version"`
	Config         struct {
		OK     bool     `json:"ok"`
		Errors []string `json:"errors"`
	} `json:"config"`
	History []struct {
		Version uint64 `json:"version"`
		Source  string `json:"source"`
		Summary string `json:"summary"`
	} `json:"history"`
}

func (p *proc) status(t *testing.T) status {
	t.Helper()
	var s status
	getJSON(t, p.admin+"/status", &s)
	return s
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls the admin status until ok holds, for at most 20 s.
func (p *proc) waitFor(t *testing.T, what string, ok func(status) bool) status {
	t.Helper()
	var s status
	poll(t, what, func() bool { s = p.status(t); return ok(s) })
	return s
}

// poll calls ok every 20 ms until it holds, for at most 20 s. The server is
// another process that reacts asynchronously; polling its admin listener is
// how a client sees it, so this is the one place these tests wait on time.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	pollWithin(t, 20*time.Second, what, ok)
}

// pollWithin is poll with a deadline of d.
func pollWithin(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const goodConfig = `server:
  admin: { listen: "127.0.0.1:0" }
  shutdown_timeout: 5s
zones:
  - { name: a }
  - { name: b }
target_groups:
  - name: web
    protocol: http
    port: 8080
    targets:
      - { address: 192.0.2.10, zone: a }
      - { address: 192.0.2.20, zone: b }
`

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReloadKeepsServingOnBadConfig is the acceptance test: a broken
// file sent with SIGHUP is refused whole, the old version keeps serving and
// the error shows on the admin listener; a fixed file applies as a new version.
func TestReloadKeepsServingOnBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, goodConfig)
	p := start(t, cfg, filepath.Join(dir, "data"))

	s := p.waitFor(t, "version 1 in the view", func(s status) bool { return s.ViewVersion == 1 })
	if !s.Config.OK || s.DesiredVersion != 1 {
		t.Fatalf("status after start = %+v, want config ok at version 1", s)
	}
	if code, body := get(t, p.admin+"/readyz"); code != 200 {
		t.Fatalf("GET /readyz = %d %q, want 200", code, body)
	}

	// Break the file: an unknown key and an out-of-range port.
	writeFile(t, cfg, strings.Replace(goodConfig, "port: 8080", "port: 80800\n    helth_check: {}", 1))
	p.cmd.Process.Signal(syscall.SIGHUP)
	s = p.waitFor(t, "the config error", func(s status) bool { return !s.Config.OK })
	if s.DesiredVersion != 1 || s.ViewVersion != 1 {
		t.Errorf("after a bad reload: desired %d, view %d; want both still 1", s.DesiredVersion, s.ViewVersion)
	}
	wantErrs := []string{
		cfg + ":10:11: target_groups[web].port: 80800 is out of range (1–65535)",
		cfg + `:11:5: target_groups[web]: unknown field "helth_check" (did you mean "health_check"?)`,
	}
	if strings.Join(s.Config.Errors, "\n") != strings.Join(wantErrs, "\n") {
		t.Errorf("config errors on /status =\n%s\nwant\n%s", strings.Join(s.Config.Errors, "\n"), strings.Join(wantErrs, "\n"))
	}
	if code, _ := get(t, p.admin+"/readyz"); code != 200 {
		t.Errorf("GET /readyz after a bad reload = %d, want 200: the old version still serves", code)
	}

	// Fix it with a real change: a third target.
	writeFile(t, cfg, goodConfig+"      - { address: 192.0.2.30, zone: b }\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	s = p.waitFor(t, "version 2", func(s status) bool { return s.Config.OK && s.ViewVersion == 2 })
	if s.DesiredVersion != 2 || len(s.History) != 2 || s.History[0].Source != "file" || s.History[0].Summary != "~target_groups[web]" {
		t.Errorf("status after fix = %+v, want version 2 with history ~target_groups[web]", s)
	}

	// SIGTERM drains and exits 0.
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("serve did not exit within 10s of SIGTERM")
	}
}

// TestRestartServesStoredStateWhenFileIsBad: the store outlives the process;
// a file broken while it was down does not take the service away.
func TestRestartServesStoredStateWhenFileIsBad(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	data := filepath.Join(dir, "data")
	writeFile(t, cfg, goodConfig)
	p := start(t, cfg, data)
	p.waitFor(t, "version 1", func(s status) bool { return s.ViewVersion == 1 })
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done

	writeFile(t, cfg, strings.Replace(goodConfig, "zone: b }", "zone: c }", 1))
	p = start(t, cfg, data)
	s := p.waitFor(t, "the stored version", func(s status) bool { return s.ViewVersion == 1 })
	if s.Config.OK || len(s.Config.Errors) != 1 || !strings.Contains(s.Config.Errors[0], `zone "c" is not defined`) {
		t.Errorf("status = %+v, want the stored version 1 serving and the zone error shown", s)
	}
}

// TestStartRefusesBadConfigWithEmptyStore: with nothing stored, an invalid
// file is fatal and every problem is printed.
func TestStartRefusesBadConfigWithEmptyStore(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, "zones:\n  - { name: a }\n  - { name: a }\nbogus: 1\n")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, switchboard(t), "serve", "--config", cfg, "--data-dir", filepath.Join(dir, "data")).CombinedOutput()
	if code := exitCode(err); code != 1 {
		t.Fatalf("serve with a bad file and empty store exited %d, want 1\n%s", code, out)
	}
	for _, want := range []string{cfg + `:3:13: zones[a].name: duplicate zone name "a"`, cfg + `:4:1: unknown field "bogus"`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("serve output lacks %q:\n%s", want, out)
		}
	}
}

// TestValidate runs the validate verb on good and bad files.
func TestValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, goodConfig)
	writeFile(t, bad, "zones:\n  - { name: \"-x\" }\n")
	out, err := exec.Command(switchboard(t), "validate", good).CombinedOutput()
	if exitCode(err) != 0 || len(out) != 0 {
		t.Errorf("validate good = %d %q, want 0 and no output", exitCode(err), out)
	}
	out, err = exec.Command(switchboard(t), "validate", good, bad).CombinedOutput()
	want := bad + `:2:13: zones[-x].name: "-x" is not a valid zone name (1–63 letters, digits, '.', '_' or '-', starting with a letter or digit)` + "\n"
	if exitCode(err) != 1 || string(out) != want {
		t.Errorf("validate good bad = %d\n%s\nwant 1\n%s", exitCode(err), out, want)
	}
	out, err = exec.Command(switchboard(t), "version").CombinedOutput()
	if exitCode(err) != 0 || !strings.HasPrefix(string(out), "switchboard ") {
		t.Errorf("version = %d %q, want 0 and a version line", exitCode(err), out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
