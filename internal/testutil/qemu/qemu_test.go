package qemu

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	dep := "kernel/net/netfilter/ipvs/ip_vs_rr.ko: kernel/net/netfilter/ipvs/ip_vs.ko kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n" +
		"kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko kernel/lib/libcrc32c.ko\n" +
		"kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko\n" +
		"kernel/lib/libcrc32c.ko:\n" +
		"kernel/crypto/crc32c_generic.ko:\n" +
		"kernel/drivers/net/dummy-x.ko.xz:\n"
	if err := os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644); err != nil {
		t.Fatal(err)
	}
	k := &Kernel{Version: "test", Modules: dir}
	got, err := k.Resolve("crc32c_generic", "ip_vs_rr", "ip_vs", "dummy-x")
	if err != nil {
		t.Fatalf("Resolve() = %v", err)
	}
	want := []string{
		"kernel/crypto/crc32c_generic.ko",
		"kernel/lib/libcrc32c.ko",
		"kernel/net/netfilter/nf_conntrack.ko",
		"kernel/net/netfilter/ipvs/ip_vs.ko",
		"kernel/net/netfilter/ipvs/ip_vs_rr.ko",
		"kernel/drivers/net/dummy-x.ko.xz",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Resolve() mismatch (-want +got):\n%s", diff)
	}
	if _, err := k.Resolve("ip_vs_twos"); err == nil || !strings.Contains(err.Error(), "no module ip_vs_twos") {
		t.Errorf("Resolve(ip_vs_twos) = %v, want a missing-module error", err)
	}
}

// TestInitramfsCpio reads the archive back with GNU cpio, an independent
// reader of the format.
func TestInitramfsCpio(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio is not installed (apt-get install cpio)")
	}
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	payload := filepath.Join(dir, "payload")
	os.WriteFile(bb, []byte("not really busybox"), 0o755)
	os.WriteFile(payload, []byte("hello, guest\n"), 0o644)
	r := &Initramfs{Busybox: bb, Files: map[string]string{"/opt/test/payload": payload}, Script: "echo hi"}
	var buf bytes.Buffer
	if err := r.Write(&buf); err != nil {
		t.Fatal(err)
	}
	list := exec.Command("cpio", "-it", "--quiet")
	list.Stdin = bytes.NewReader(buf.Bytes())
	out, err := list.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio -it: %v\n%s", err, out)
	}
	for _, name := range []string{"bin/busybox", "dev/console", "opt", "opt/test", "opt/test/payload", "init"} {
		if !strings.Contains("\n"+string(out), "\n"+name+"\n") {
			t.Errorf("cpio -it lists:\n%s\nwant %s in it", out, name)
		}
	}
	extract := exec.Command("cpio", "-i", "--quiet", "--to-stdout", "opt/test/payload")
	extract.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := extract.Output(); err != nil || string(out) != "hello, guest\n" {
		t.Errorf("cpio -i opt/test/payload = %q, %v; want the file's bytes", out, err)
	}
	extract = exec.Command("cpio", "-i", "--quiet", "--to-stdout", "init")
	extract.Stdin = bytes.NewReader(buf.Bytes())
	if out, err := extract.Output(); err != nil || !strings.Contains(string(out), "echo hi\n") || !strings.HasPrefix(string(out), "#!/bin/busybox sh\n") {
		t.Errorf("cpio -i init = %q, %v; want the init script with the test's script", out, err)
	}
}

// TestBoot boots the kernel with a script and checks that its output and
// exit status come back.
func TestBoot(t *testing.T) {
	k := Require(t, "dummy")
	bb, _ := Busybox()
	dir := t.TempDir()
	r := &Initramfs{
		Busybox: bb, Kernel: k, Modules: []string{"dummy"},
		Script: "echo \"guest says $SWITCHBOARD_WORD\"\nip link add d0 type dummy && echo dummy-ok\nexit 3",
	}
	img := filepath.Join(dir, "initramfs.cpio")
	if err := r.WriteFile(img); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	m := &Machine{Kernel: k, Initramfs: img, Console: filepath.Join(dir, "console"), Append: "SWITCHBOARD_WORD=hello"}
	start := time.Now()
	out, err := m.Boot(ctx)
	if err != nil {
		t.Fatalf("Boot() = %v; console:\n%s", err, out)
	}
	t.Logf("booted %s (kvm %v) in %v", k.Version, m.UsedKVM, time.Since(start).Round(time.Millisecond))
	for _, want := range []string{"guest says hello", "dummy-ok", ExitMarker + "3"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("console has no %q:\n%s", want, out)
		}
	}
}
