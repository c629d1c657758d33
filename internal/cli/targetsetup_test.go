//go:build linux

package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/switchboard/switchboard/internal/testutil/netns"
)

// TestTargetSetup runs the verb inside a namespace of its own: the VIP lands
// on lo with the ARP settings, a second run changes nothing, and --undo
// takes both back.
func TestTargetSetup(t *testing.T) {
	ns := netns.New(t, "target")
	run := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := 0
		if err := ns.Do(func() error {
			code = Main(context.Background(), append([]string{"switchboard", "target-setup"}, args...), &stdout, &stderr)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return code, stdout.String() + stderr.String()
	}
	sysctl := func(name string) string {
		return strings.TrimSpace(ns.Exec(t, "cat", "/proc/sys/net/ipv4/conf/"+name))
	}
	for i := range 2 {
		if code, out := run("--vip", "192.0.2.10", "--vip", "2001:db8::10"); code != 0 {
			t.Fatalf("run %d: target-setup = %d: %s", i+1, code, out)
		}
		addrs := ns.Exec(t, "ip", "-o", "addr", "show", "dev", "lo")
		if strings.Count(addrs, "192.0.2.10/32") != 1 || strings.Count(addrs, "2001:db8::10/128") != 1 {
			t.Errorf("run %d: lo has\n%s\nwant 192.0.2.10/32 and 2001:db8::10/128 once each", i+1, addrs)
		}
		for _, s := range []struct{ name, want string }{{"all/arp_ignore", "1"}, {"lo/arp_ignore", "1"}, {"all/arp_announce", "2"}, {"lo/arp_announce", "2"}} {
			if got := sysctl(s.name); got != s.want {
				t.Errorf("run %d: %s = %s, want %s", i+1, s.name, got, s.want)
			}
		}
	}
	if code, out := run("--undo", "--vip", "192.0.2.10", "--vip", "2001:db8::10"); code != 0 {
		t.Fatalf("target-setup --undo = %d: %s", code, out)
	}
	if addrs := ns.Exec(t, "ip", "-o", "addr", "show", "dev", "lo"); strings.Contains(addrs, "192.0.2.10") || strings.Contains(addrs, "2001:db8::10") {
		t.Errorf("after --undo lo still has a VIP:\n%s", addrs)
	}
	if got := sysctl("all/arp_ignore"); got != "0" {
		t.Errorf("after --undo all/arp_ignore = %s, want 0", got)
	}
	if code, out := run("--vip", "not-an-ip"); code != 2 || !strings.Contains(out, `"not-an-ip" is not an IP address`) {
		t.Errorf("target-setup --vip not-an-ip = %d, %q; want 2 and the reason", code, out)
	}
}
