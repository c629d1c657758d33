//go:build linux

package ipvs

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil/qemu"
)

// guestEnv is set (to "ipvs") on the guest kernel's command line, which
// hands it to /init and so to the test binary: the TestGuest* tests run only
// there, where the kernel has IPVS.
const guestEnv = "SWITCHBOARD_GUEST"

// syncRoundsEnv sets the rounds of TestGuestSyncTime; TestKernel hands it
// to the guest on the kernel command line.
const syncRoundsEnv = "SWITCHBOARD_IPVS_SYNC_ROUNDS"

// measureMarker starts the lines in which guest tests print measurements
// for the host test to report.
const measureMarker = "ipvs-measure: "

// guestModules are the modules the guest loads at boot. libcrc32c (needed by
// nf_conntrack, needed by ip_vs) asks the crypto API for crc32c, which the
// kernel would load on demand through modprobe; the guest loads it first.
// veth joins the guest's network namespaces in the direct-routing test, and
// ipip decapsulates in its tunnel case.
var guestModules = []string{"crc32c_generic", "ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_mh", "veth", "ipip"}

func inGuest() bool { return os.Getenv(guestEnv) == "ipvs" }

// TestKernel boots Debian's kernel, which has IPVS, under qemu with this
// package's tests compiled as the guest's program, and runs the TestGuest*
// tests there. The host needs qemu-system-x86, busybox-static and
// linux-image-amd64 (scripts/test.sh installs them); no root.
func TestKernel(t *testing.T) {
	if inGuest() {
		t.Skip("inside the guest already")
	}
	if testing.Short() {
		t.Skip("boots a kernel under qemu (-short)")
	}
	k := qemu.Require(t, guestModules...)
	bb, _ := qemu.Busybox()
	dir := t.TempDir()
	// A cold build cache makes the build slow on a busy machine; the boot
	// and the guest's tests take about 40 s under software emulation.
	buildCtx, cancelBuild := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancelBuild()

	bin := filepath.Join(dir, "ipvs.test")
	build := exec.CommandContext(buildCtx, goTool(), "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the guest's test binary: %v\n%s", err, out)
	}
	t.Logf("built the guest's test binary in %v", time.Since(start).Round(time.Millisecond))
	img := filepath.Join(dir, "initramfs.cpio")
	run := "^TestGuest"
	if r := os.Getenv("SWITCHBOARD_GUEST_RUN"); r != "" {
		run = r // a developer's narrower selection
	}
	r := &qemu.Initramfs{
		Busybox: bb, Kernel: k, Modules: guestModules,
		Files:  map[string]string{"/ipvs.test": bin},
		Script: "cd /tmp && /ipvs.test -test.v -test.count=1 -test.run '" + run + "'",
	}
	if err := r.WriteFile(img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Second)
	defer cancel()
	appendArgs := guestEnv + "=ipvs"
	if r := os.Getenv(syncRoundsEnv); r != "" {
		appendArgs += " " + syncRoundsEnv + "=" + r
	}
	m := &qemu.Machine{Kernel: k, Initramfs: img, Console: filepath.Join(dir, "console"), Append: appendArgs, MemoryMiB: 512}
	start = time.Now()
	out, err := m.Boot(ctx)
	t.Logf("guest %s (kvm %v) ran in %v", k.Version, m.UsedKVM, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("boot: %v\nconsole:\n%s", err, out)
	}
	results := guestResults(out)
	t.Logf("guest:\n%s", strings.Join(results.summary, "\n"))
	for _, line := range results.measures {
		t.Log(line)
	}
	if results.exit != "0" || len(results.failed) > 0 || results.passed == 0 {
		t.Fatalf("guest tests failed (exit %q, failed %q, %d passed); console:\n%s", results.exit, results.failed, results.passed, out)
	}
	for _, name := range []string{"TestGuestReconcile", "TestGuestMethodsAndSchedulers", "TestGuestRepairsDrift", "TestGuestPackets", "TestGuestDirectRouting", "TestGuestNeedsCapability", "TestGuestSyncTime"} {
		if run != "^TestGuest" {
			break
		}
		if !results.ran[name] {
			t.Errorf("guest test %s did not pass (skipped or absent); console:\n%s", name, out)
		}
	}
}

// goTool is the go command that runs this test.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

type guestResult struct {
	exit     string
	passed   int
	failed   []string
	ran      map[string]bool // tests that passed without skipping
	measures []string
	summary  []string // result lines and the guest tests' logs, with their durations
}

var resultLine = regexp.MustCompile(`^\s*--- (PASS|FAIL|SKIP): (\S+)`)

// guestResults reads the test binary's -test.v output off the console.
func guestResults(console []byte) guestResult {
	r := guestResult{ran: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(console))
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if i := strings.Index(line, measureMarker); i >= 0 {
			r.measures = append(r.measures, line[i:])
		}
		if strings.HasPrefix(strings.TrimSpace(line), "--- ") || strings.HasPrefix(line, "qemu: ") || strings.HasPrefix(strings.TrimSpace(line), "guest_test.go:") {
			r.summary = append(r.summary, strings.TrimSpace(line))
		}
		if i := strings.Index(line, qemu.ExitMarker); i >= 0 {
			r.exit = strings.TrimSpace(line[i+len(qemu.ExitMarker):])
		}
		m := resultLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		switch m[1] {
		case "PASS":
			r.passed++
			r.ran[m[2]] = true
		case "FAIL":
			r.failed = append(r.failed, m[2])
		}
	}
	return r
}

func TestGuestResults(t *testing.T) {
	console := "boot noise\n=== RUN   TestGuestA\n--- PASS: TestGuestA (0.01s)\n    --- SKIP: TestGuestA/x (0.00s)\n" +
		"--- FAIL: TestGuestB (0.02s)\n" + measureMarker + "sync p99=1ms\r\n" + qemu.ExitMarker + "1\n"
	r := guestResults([]byte(console))
	if r.exit != "1" || r.passed != 1 || len(r.failed) != 1 || r.failed[0] != "TestGuestB" || !r.ran["TestGuestA"] || r.ran["TestGuestA/x"] {
		t.Errorf("guestResults() = %+v", r)
	}
	if len(r.measures) != 1 || r.measures[0] != measureMarker+"sync p99=1ms" {
		t.Errorf("guestResults().measures = %q", r.measures)
	}
}
