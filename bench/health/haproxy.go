package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// runHAProxy runs haproxy with cfg.n servers, each with an http check of
// the same shape as ours (GET /healthz, inter = the interval, fall 3,
// rise 3, timeout half the interval), against the same backend, and
// measures its CPU and memory over the window. haproxy opens a new
// connection for every check; it has no keep-alive checks. It inherits
// this process's CPU affinity (run.sh pins it).
func runHAProxy(ctx context.Context, cfg config) error {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	ctl := newCtlClient(cfg.ctl)
	addrs, err := ctl.targets(ctx)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "bench-health-haproxy-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	timeout := cfg.interval / 2
	var b bytes.Buffer
	fmt.Fprintf(&b, `global
    maxconn 4096
    nbthread 1

defaults
    mode http
    timeout connect %[1]dms
    timeout check %[1]dms
    timeout client 5s
    timeout server 5s

# haproxy refuses to start without a listener; this one takes no traffic.
frontend fe
    bind unix@%[3]s
    default_backend checks

backend checks
    option httpchk
    http-check send meth GET uri /healthz
    http-check expect status 200-399
    default-server check inter %[2]dms fall 3 rise 3
`, timeout.Milliseconds(), cfg.interval.Milliseconds(), filepath.Join(dir, "fe.sock"))
	width := len(strconv.Itoa(cfg.n - 1))
	for i := range cfg.n {
		fmt.Fprintf(&b, "    server s%0*d %s\n", width, i, addrs[i%len(addrs)])
	}
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", path).CombinedOutput(); err != nil {
		return fmt.Errorf("haproxy -c: %w\n%s", err, out)
	}

	version, _ := exec.CommandContext(ctx, bin, "-v").Output()
	cmd := exec.CommandContext(ctx, bin, "-db", "-q", "-f", path)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	pid := cmd.Process.Pid
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()

	if err := sleep(ctx, cfg.warmup); err != nil {
		return err
	}
	t0 := time.Now()
	cpu0, err := procCPUSeconds(pid)
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	st0, err := ctl.stats(ctx)
	if err != nil {
		return err
	}
	if err := sleep(ctx, cfg.window); err != nil {
		return err
	}
	cpu1, err := procCPUSeconds(pid)
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}
	st1, err := ctl.stats(ctx)
	if err != nil {
		return err
	}
	wall := time.Since(t0).Seconds()
	mem, err := procMemory(strconv.Itoa(pid))
	if err != nil {
		return fmt.Errorf("haproxy: %w", err)
	}

	first, _, _ := bytes.Cut(version, []byte("\n"))
	fmt.Printf("== peer: %s, %d servers with http checks, inter %s, a new connection per check ==\n", first, cfg.n, cfg.interval)
	fmt.Printf("window %s after %s of warm-up; nbthread 1, pinned like our checker\n\n", cfg.window, cfg.warmup)
	cores := (cpu1 - cpu0) / wall
	requests := st1.Requests - st0.Requests
	rate := float64(requests) / wall
	row("CPU of the haproxy process", fmt.Sprintf("%.3f cores", cores), "from /proc/PID/stat, 10 ms resolution")
	if rate > 0 {
		row("  CPU per check", fmt.Sprintf("%.1f µs", cores/rate*1e6), "")
	}
	if cores > 0 {
		row("  checks/s one core would carry", fmt.Sprintf("%.0f", rate/cores), "at this CPU per check")
	}
	row("peak RSS (VmHWM)", mib(mem.Peak), "")
	row("checks/s (backend's count)", fmt.Sprintf("%.1f", rate), fmt.Sprintf("expected %.0f", float64(cfg.n)/cfg.interval.Seconds()))
	if requests > 0 {
		row("backend CPU per 1k requests", fmt.Sprintf("%.2f ms", (st1.CPUSeconds-st0.CPUSeconds)/float64(requests)*1e6), "server side, on the other CPU")
	}
	fmt.Println()
	return nil
}
