// Package qemu boots a Linux kernel under qemu-system-x86_64 with an
// initramfs built by the test, so that tests can use kernel features the
// host's kernel lacks (IPVS on our CI hosts): it finds a kernel package's
// image and modules, resolves module dependencies from modules.dep, writes a
// cpio (newc) archive with busybox, the modules and the test's files, boots
// it with a bounded time and returns the serial console's output.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// Kernel is a kernel image and its module tree.
type Kernel struct {
	// Version is the release, such as 6.1.0-56-amd64.
	Version string
	// Image is the bootable image, /boot/vmlinuz-<version>.
	Image string
	// Modules is the module tree, /lib/modules/<version>.
	Modules string
}

// FindKernel returns the newest kernel under boot (normally /boot) whose
// module tree under modules (normally /lib/modules) has every named module,
// or an error that says what is missing.
func FindKernel(boot, modules string, need ...string) (*Kernel, error) {
	images, _ := filepath.Glob(filepath.Join(boot, "vmlinuz-*"))
	sort.Sort(sort.Reverse(sort.StringSlice(images)))
	if len(images) == 0 {
		return nil, fmt.Errorf("qemu: no kernel image %s/vmlinuz-* (apt-get install linux-image-amd64)", boot)
	}
	var reasons []string
	for _, img := range images {
		version := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		k := &Kernel{Version: version, Image: img, Modules: filepath.Join(modules, version)}
		if f, err := os.Open(img); err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", version, err))
			continue
		} else {
			f.Close()
		}
		if _, err := k.Resolve(need...); err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", version, err))
			continue
		}
		return k, nil
	}
	return nil, fmt.Errorf("qemu: no kernel under %s has the modules %s: %s", boot, strings.Join(need, ", "), strings.Join(reasons, "; "))
}

// Resolve returns the module files (relative to k.Modules) that loading the
// named modules needs, dependencies first, each once.
func (k *Kernel) Resolve(names ...string) ([]string, error) {
	f, err := os.Open(filepath.Join(k.Modules, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("qemu: read modules.dep: %w", err)
	}
	defer f.Close()
	deps := map[string][]string{} // module file -> its dependencies, as modules.dep lists them
	byName := map[string]string{} // module name -> module file
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		file, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		deps[file] = strings.Fields(rest)
		byName[moduleName(file)] = file
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("qemu: read modules.dep: %w", err)
	}
	var out []string
	seen := map[string]bool{}
	var add func(file string)
	add = func(file string) {
		if seen[file] {
			return
		}
		seen[file] = true
		// modules.dep lists every transitive dependency, the deepest last;
		// load them deepest first.
		for _, d := range slices.Backward(deps[file]) {
			add(d)
		}
		out = append(out, file)
	}
	var missing []string
	for _, n := range names {
		file, ok := byName[strings.ReplaceAll(n, "-", "_")]
		if !ok {
			missing = append(missing, n)
			continue
		}
		add(file)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("qemu: no module %s in %s", strings.Join(missing, ", "), k.Modules)
	}
	return out, nil
}

// moduleName is the module name of a module file: kernel/net/ipv4/ip-x.ko.xz -> ip_x.
func moduleName(file string) string {
	base := filepath.Base(file)
	if i := strings.Index(base, ".ko"); i >= 0 {
		base = base[:i]
	}
	return strings.ReplaceAll(base, "-", "_")
}

// Machine is one boot of a kernel.
type Machine struct {
	// Kernel to boot.
	Kernel *Kernel
	// Initramfs is the path of the cpio archive to boot from.
	Initramfs string
	// Append is added to the kernel command line. Words of the form
	// KEY=value that the kernel does not know reach /init as environment.
	Append string
	// MemoryMiB is the guest's memory. Default 512.
	MemoryMiB int
	// CPUs is the guest's processor count. Default 1.
	CPUs int
	// Console is the file the serial console is written to.
	Console string
	// Accel is "kvm", "tcg", or empty to use KVM when it works. Empty takes
	// the environment's SWITCHBOARD_QEMU_ACCEL, so that a machine whose KVM
	// hangs can skip the 5-second probe.
	Accel string

	// UsedKVM reports, after Boot, whether the guest ran under KVM.
	UsedKVM bool
}

// KVM reports whether /dev/kvm can be opened. That it opens does not mean
// a guest runs (nested virtualization may hang it); Boot checks that.
func KVM() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// kvmGrace is how long a KVM guest may take to print the kernel's first
// line before Boot gives up on KVM and emulates instead. A working KVM
// prints it in well under a second; TCG in about three.
const kvmGrace = 5 * time.Second

// banner is the kernel's first console line, printed early with earlyprintk.
var banner = []byte("Linux version")

// Boot runs the machine until the guest powers off, and returns what the
// serial console printed. It uses KVM when /dev/kvm opens and the kernel
// starts under it, and software emulation (TCG) otherwise. It stops the
// machine when ctx ends and then returns the console so far with ctx's
// error. The guest must power off to finish (poweroff -f); a kernel panic
// ends it too (panic=-1 with -no-reboot).
func (m *Machine) Boot(ctx context.Context) ([]byte, error) {
	if m.Accel == "" {
		m.Accel = os.Getenv("SWITCHBOARD_QEMU_ACCEL")
	}
	if m.Accel != "tcg" && KVM() {
		out, started, err := m.boot(ctx, true)
		if started || m.Accel == "kvm" {
			m.UsedKVM = true
			return out, err
		}
	}
	m.UsedKVM = false
	out, _, err := m.boot(ctx, false)
	return out, err
}

// boot runs qemu once. With kvm it stops early, reporting started false,
// when the kernel prints nothing within kvmGrace.
func (m *Machine) boot(ctx context.Context, kvm bool) (console []byte, started bool, err error) {
	mem, cpus := m.MemoryMiB, m.CPUs
	if mem == 0 {
		mem = 512
	}
	if cpus == 0 {
		cpus = 1
	}
	os.Remove(m.Console)
	args := []string{
		"-nographic", "-nodefaults", "-monitor", "none", "-serial", "file:" + m.Console,
		"-no-reboot", "-m", fmt.Sprint(mem), "-smp", fmt.Sprint(cpus),
		"-kernel", m.Kernel.Image, "-initrd", m.Initramfs,
		"-append", "console=ttyS0 earlyprintk=serial loglevel=4 panic=-1 oops=panic mitigations=off " + m.Append,
	}
	if kvm {
		// -cpu host without arch-capabilities: nested KVM hosts refuse that MSR.
		args = append(args, "-enable-kvm", "-cpu", "host,-arch-capabilities")
	} else {
		args = append(args, "-cpu", "max")
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "qemu-system-x86_64", args...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("qemu: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var runErr error
	if kvm {
		tick := time.NewTicker(100 * time.Millisecond)
		deadline := time.Now().Add(kvmGrace)
	watch:
		for {
			select {
			case runErr = <-done:
				started = true // it ended by itself; judge by its output
				break watch
			case <-tick.C:
				if b, _ := os.ReadFile(m.Console); bytes.Contains(b, banner) {
					started = true
				}
				if started {
					break watch
				}
				if time.Now().After(deadline) {
					cancel()
					<-done
					tick.Stop()
					b, _ := os.ReadFile(m.Console)
					return b, false, nil
				}
			}
		}
		tick.Stop()
		if runErr == nil {
			runErr = <-done
		}
	} else {
		runErr = <-done
	}
	console, err = os.ReadFile(m.Console)
	if err != nil && runErr == nil {
		runErr = err
	}
	if ctx.Err() != nil {
		return console, started, fmt.Errorf("qemu: the guest did not power off in time: %w", ctx.Err())
	}
	if runErr != nil {
		return console, started, fmt.Errorf("qemu: %w: %s", runErr, bytes.TrimSpace(stderr.Bytes()))
	}
	return console, started, nil
}

// Require returns a kernel with the named modules, or skips t with the
// reason when qemu, busybox or such a kernel is missing.
func Require(t testing.TB, modules ...string) *Kernel {
	t.Helper()
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	if _, err := Busybox(); err != nil {
		t.Skip(err.Error())
	}
	k, err := FindKernel("/boot", "/lib/modules", modules...)
	if err != nil {
		t.Skip(err.Error())
	}
	return k
}

// Busybox returns the path of a statically linked busybox.
func Busybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		// A dynamically linked program names its interpreter; a static one does not.
		static := !slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
		f.Close()
		if static {
			return p, nil
		}
	}
	return "", errors.New("qemu: no static busybox (apt-get install busybox-static)")
}
