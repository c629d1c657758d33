// Package netns builds throw-away network namespaces for tests: a namespace,
// a LAN of namespaces joined by veth pairs to a bridge, and helpers to run
// code or commands inside one. Every helper skips the test, with the reason,
// when it cannot run here (not root, no ip command, no namespaces), and
// removes what it made when the test ends, failed or not.
package netns

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	vnetns "github.com/vishvananda/netns"

	"github.com/switchboard/switchboard/internal/nsrun"
)

// Require skips t unless it runs as root on Linux with the ip command.
func Require(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("netns: network namespaces need Linux")
	}
	if os.Geteuid() != 0 {
		t.Skip("netns: creating network namespaces needs root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("netns: the ip command (iproute2) is not installed")
	}
}

// RequireCommand skips t unless the named command is installed.
func RequireCommand(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("netns: the %s command is not installed", name)
	}
}

var (
	seq       atomic.Int64
	sweepOnce sync.Once
)

// sweep deletes the namespaces that test processes no longer running left
// behind (killed by a timeout before their cleanup ran).
func sweep() {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for line := range strings.Lines(string(out)) {
		name, _, _ := strings.Cut(strings.TrimSpace(line), " ")
		var pid int
		if _, err := fmt.Sscanf(name, "sb%d-", &pid); err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); os.IsNotExist(err) {
			exec.Command("ip", "netns", "del", name).Run()
		}
	}
}

// NS is a named network namespace.
type NS struct {
	// Name is the namespace's name under /var/run/netns.
	Name string
	// Handle is an open handle on the namespace, closed at cleanup.
	Handle vnetns.NsHandle
}

// New creates a namespace for t with lo up and removes it when t ends. The
// name carries the process id, so parallel test binaries do not collide.
func New(t testing.TB, label string) *NS {
	t.Helper()
	Require(t)
	sweepOnce.Do(sweep)
	name := fmt.Sprintf("sb%d-%d-%s", os.Getpid(), seq.Add(1), label)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Skipf("netns: ip netns add %s: %v: %s", name, err, out)
	}
	n := &NS{Name: name}
	t.Cleanup(func() {
		if n.Handle.IsOpen() {
			n.Handle.Close()
		}
		exec.Command("ip", "netns", "del", name).Run()
	})
	h, err := vnetns.GetFromName(name)
	if err != nil {
		t.Fatalf("netns: open %s: %v", name, err)
	}
	n.Handle = h
	n.Exec(t, "ip", "link", "set", "lo", "up")
	return n
}

// Exec runs a command inside the namespace (ip netns exec) and returns its
// standard output; it fails t when the command fails.
func (n *NS) Exec(t testing.TB, args ...string) string {
	t.Helper()
	out, err := n.Try(args...)
	if err != nil {
		t.Fatalf("netns %s: %s: %v", n.Name, strings.Join(args, " "), err)
	}
	return out
}

// Try runs a command inside the namespace and returns its output, or an
// error carrying its standard error.
func (n *NS) Try(args ...string) (string, error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", n.Name}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn opens
// stay in the namespace after Do returns, so a listener made in Do can be
// served from any goroutine.
func (n *NS) Do(fn func() error) error { return nsrun.In(n.Handle, fn) }

// Host is a namespace on a LAN.
type Host struct {
	*NS
	// Addr is the host's address and the LAN's prefix, on eth0.
	Addr netip.Prefix
	// Addr6 is the host's IPv6 address on eth0: fd00::N/64 for the Nth
	// host, without duplicate address detection so it is usable at once.
	Addr6 netip.Prefix
	// MAC is eth0's hardware address.
	MAC net.HardwareAddr
	// Peer is the name of the bridge port (in the switch namespace) that
	// leads to this host.
	Peer string
}

// Iface is the name of every host's interface on the LAN.
const Iface = "eth0"

// LAN is a bridge in its own namespace and hosts wired to it.
type LAN struct {
	Switch *NS
	Hosts  []*Host
	prefix netip.Prefix
}

// NewLAN makes a switch namespace with bridge br0 and one host namespace
// per label, each with eth0 addressed from prefix in order (.1, .2, …).
func NewLAN(t testing.TB, prefix netip.Prefix, labels ...string) *LAN {
	t.Helper()
	sw := New(t, "sw")
	sw.Exec(t, "ip", "link", "add", "br0", "type", "bridge")
	sw.Exec(t, "ip", "link", "set", "br0", "up")
	lan := &LAN{Switch: sw, prefix: prefix}
	for _, l := range labels {
		lan.Add(t, l)
	}
	return lan
}

// Add wires a new host namespace to the LAN and returns it.
func (l *LAN) Add(t testing.TB, label string) *Host {
	t.Helper()
	h := &Host{NS: New(t, label), Peer: fmt.Sprintf("p%d", len(l.Hosts)+1)}
	a := l.prefix.Addr()
	for range len(l.Hosts) + 1 {
		a = a.Next()
	}
	h.Addr = netip.PrefixFrom(a, l.prefix.Bits())
	h.Addr6 = netip.PrefixFrom(netip.AddrFrom16([16]byte{0: 0xfd, 15: byte(len(l.Hosts) + 1)}), 64)
	l.Switch.Exec(t, "ip", "link", "add", h.Peer, "type", "veth", "peer", "name", Iface, "netns", h.Name)
	l.Switch.Exec(t, "ip", "link", "set", h.Peer, "master", "br0", "up")
	h.Exec(t, "ip", "addr", "add", h.Addr.String(), "dev", Iface)
	h.Exec(t, "ip", "-6", "addr", "add", h.Addr6.String(), "dev", Iface, "nodad")
	// No duplicate address detection for the link-local address either: a
	// freshly wired host would otherwise have no usable link-local address
	// for its first second or two, and neighbour discovery from it (which
	// needs one) would stall, which real hosts, up long before, never see.
	h.Exec(t, "sysctl", "-qw", "net.ipv6.conf."+Iface+".accept_dad=0")
	h.Exec(t, "ip", "link", "set", Iface, "up")
	if err := h.Do(func() error {
		ifc, err := net.InterfaceByName(Iface)
		if err == nil {
			h.MAC = ifc.HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatalf("netns: %s: %v", h.Name, err)
	}
	l.Hosts = append(l.Hosts, h)
	return h
}

// Host returns the host with the given label.
func (l *LAN) Host(label string) *Host {
	for _, h := range l.Hosts {
		if strings.HasSuffix(h.Name, "-"+label) {
			return h
		}
	}
	return nil
}

// Counter reads /sys/class/net/<iface>/statistics/<name> inside the namespace,
// such as rx_packets or tx_packets.
func (n *NS) Counter(t testing.TB, iface, name string) uint64 {
	t.Helper()
	out := n.Exec(t, "cat", "/sys/class/net/"+iface+"/statistics/"+name)
	var v uint64
	if _, err := fmt.Sscan(out, &v); err != nil {
		t.Fatalf("netns %s: counter %s/%s: %q: %v", n.Name, iface, name, out, err)
	}
	return v
}

// SNMP reads one counter of /proc/net/netstat or /proc/net/snmp inside the
// namespace, by group and name, such as ("TcpExt", "TCPSynRetrans").
func (n *NS) SNMP(t testing.TB, group, name string) uint64 {
	t.Helper()
	out := n.Exec(t, "cat", "/proc/net/netstat", "/proc/net/snmp")
	// Each group is two lines: "Group: names…" then "Group: values…".
	lines := strings.Split(out, "\n")
	for i := 0; i+1 < len(lines); i++ {
		names, values := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(names) == 0 || names[0] != group+":" || len(values) != len(names) || values[0] != names[0] {
			continue
		}
		for j, k := range names[1:] {
			if k == name {
				v, err := strconv.ParseUint(values[j+1], 10, 64)
				if err != nil {
					t.Fatalf("netns %s: %s %s = %q: %v", n.Name, group, name, values[j+1], err)
				}
				return v
			}
		}
	}
	t.Fatalf("netns %s: no counter %s %s", n.Name, group, name)
	return 0
}
