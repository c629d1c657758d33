package qemu

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
)

// Initramfs is the guest's root file system: busybox, kernel modules loaded
// at boot, the test's files and the script /init runs.
type Initramfs struct {
	// Busybox is the host path of a static busybox; it becomes /bin/busybox
	// with every applet linked.
	Busybox string
	// Kernel and Modules: the named modules and their dependencies are copied
	// from Kernel's module tree and loaded in dependency order at boot.
	Kernel  *Kernel
	Modules []string
	// Files maps guest paths to host paths; they are copied executable.
	Files map[string]string
	// Script is the shell script /init runs once the system is up (proc,
	// sys, dev mounted, modules loaded, lo up). /init then prints
	// "qemu: script exited N" and powers the guest off.
	Script string
}

// ExitMarker starts the line /init prints after Script, followed by its exit
// status.
const ExitMarker = "qemu: script exited "

// Write writes the initramfs as an uncompressed cpio (newc) archive.
func (r *Initramfs) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	a := &cpioWriter{w: bw}
	for _, d := range []string{"bin", "sbin", "usr", "usr/bin", "usr/sbin", "dev", "proc", "sys", "tmp", "run", "lib", "lib/modules", "etc"} {
		a.dir(d)
	}
	// The console device lets the kernel open stdin/stdout for /init before devtmpfs is mounted.
	a.node("dev/console", 0o020600, 5, 1)
	if err := a.file("bin/busybox", r.Busybox, 0o755); err != nil {
		return err
	}
	var insmods []string
	if len(r.Modules) > 0 {
		files, err := r.Kernel.Resolve(r.Modules...)
		if err != nil {
			return err
		}
		for _, f := range files {
			if strings.HasSuffix(f, ".ko.xz") || strings.HasSuffix(f, ".ko.zst") || strings.HasSuffix(f, ".ko.gz") {
				return fmt.Errorf("qemu: module %s is compressed; only plain .ko is supported", f)
			}
			guest := path.Join("lib/modules", path.Base(f))
			if err := a.file(guest, filepath.Join(r.Kernel.Modules, f), 0o644); err != nil {
				return err
			}
			insmods = append(insmods, "insmod /"+guest+" || echo 'qemu: insmod "+guest+" failed'")
		}
	}
	guestPaths := make([]string, 0, len(r.Files))
	for g := range r.Files {
		guestPaths = append(guestPaths, g)
	}
	slices.Sort(guestPaths)
	for _, g := range guestPaths {
		name := strings.TrimPrefix(path.Clean(g), "/")
		a.mkdirAll(path.Dir(name))
		if err := a.file(name, r.Files[g], 0o755); err != nil {
			return err
		}
	}
	init := "#!/bin/busybox sh\n" +
		"/bin/busybox --install -s\n" +
		"export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n" +
		"mount -t proc proc /proc\n" +
		"mount -t sysfs sys /sys\n" +
		"mount -t devtmpfs dev /dev\n" +
		"mount -t tmpfs tmp /tmp\n" +
		strings.Join(insmods, "\n") + "\n" +
		"ip link set lo up\n" +
		"echo \"qemu: init ready at $(cut -d' ' -f1 /proc/uptime)s of uptime\"\n" +
		"cat > /tmp/script <<'QEMU_SCRIPT_END'\n" + r.Script + "\nQEMU_SCRIPT_END\n" +
		"sh /tmp/script\n" +
		"status=$?\n" +
		"echo \"qemu: script done at $(cut -d' ' -f1 /proc/uptime)s of uptime\"\n" +
		"echo \"" + ExitMarker + "$status\"\n" +
		"poweroff -f\n"
	a.data("init", []byte(init), 0o755)
	if err := a.trailer(); err != nil {
		return err
	}
	return bw.Flush()
}

// WriteFile writes the initramfs to a file at p.
func (r *Initramfs) WriteFile(p string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if err := r.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// cpioWriter writes the "new ASCII" (newc) cpio format the kernel unpacks:
// a 110-byte header of hexadecimal fields, the name, then the data, each
// padded to four bytes.
type cpioWriter struct {
	w    io.Writer
	ino  int
	dirs map[string]bool
	err  error
}

func (a *cpioWriter) header(name string, mode, size, rdevMajor, rdevMinor int) {
	if a.err != nil {
		return
	}
	a.ino++
	nlink := 1
	if mode&0o170000 == 0o040000 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, len(name)+1, 0)
	a.write([]byte(hdr + name + "\x00"))
	a.pad(len(hdr) + len(name) + 1)
}

func (a *cpioWriter) write(b []byte) {
	if a.err == nil {
		_, a.err = a.w.Write(b)
	}
}

func (a *cpioWriter) pad(n int) {
	if r := n % 4; r != 0 {
		a.write(make([]byte, 4-r))
	}
}

func (a *cpioWriter) dir(name string) {
	if a.dirs == nil {
		a.dirs = map[string]bool{}
	}
	if a.dirs[name] {
		return
	}
	a.dirs[name] = true
	a.header(name, 0o040755, 0, 0, 0)
}

func (a *cpioWriter) mkdirAll(name string) {
	if name == "." || name == "/" || name == "" {
		return
	}
	a.mkdirAll(path.Dir(name))
	a.dir(name)
}

func (a *cpioWriter) node(name string, mode, major, minor int) {
	a.header(name, mode, 0, major, minor)
}

func (a *cpioWriter) data(name string, b []byte, perm int) {
	a.header(name, 0o100000|perm, len(b), 0, 0)
	a.write(b)
	a.pad(len(b))
}

func (a *cpioWriter) file(name, hostPath string, perm int) error {
	b, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("qemu: initramfs file %s: %w", name, err)
	}
	a.data(name, b, perm)
	return a.err
}

func (a *cpioWriter) trailer() error {
	a.header("TRAILER!!!", 0, 0, 0, 0)
	return a.err
}
