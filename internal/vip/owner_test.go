//go:build linux

package vip

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/testutil/netns"
)

// TestOwnerTakesAnnouncesAndWithdraws runs an Owner on one end of a veth
// pair in a namespace of its own and listens on the other end: both VIPs
// land on the interface, three gratuitous ARPs and three unsolicited
// neighbour advertisements with the interface's MAC arrive (the NA with a
// valid checksum), Status says held, and after the context ends both VIPs
// are gone and Status says so.
func TestOwnerTakesAnnouncesAndWithdraws(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := vethNS(t, "vip")
	ns.Exec(t, "ip", "link", "set", "eth1", "up")
	v4, v6 := netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("fd00::100")

	// Listen on eth1 for everything.
	var fd int
	if err := ns.Do(func() (err error) {
		fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(unix.ETH_P_ALL)))
		if err != nil {
			return err
		}
		ifc, err := netIfIndex("eth1")
		if err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifc})
	}); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 100_000})

	o, stop := startOwner(t, Config{Interface: "eth0", VIPs: []netip.Addr{v6, v4}, Announcements: 3, Interval: 20 * time.Millisecond, NetNS: "/var/run/netns/" + ns.Name})
	defer stop()

	mac := []byte(nil)
	garps, nas := 0, 0
	deadline := time.Now().Add(5 * time.Second)
	buf := make([]byte, 2048)
	for (garps < 3 || nas < 3) && time.Now().Before(deadline) {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // the receive timeout
		}
		f := buf[:n]
		if len(f) < 14 {
			continue
		}
		if mac == nil {
			mac = append([]byte(nil), f[6:12]...)
		}
		switch binary.BigEndian.Uint16(f[12:14]) {
		case unix.ETH_P_ARP:
			a := v4.As4()
			if len(f) >= 42 && bytes.Equal(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) && bytes.Equal(f[22:28], f[6:12]) && bytes.Equal(f[28:32], a[:]) && bytes.Equal(f[38:42], a[:]) {
				garps++
			}
		case unix.ETH_P_IPV6:
			ip := f[14:]
			if len(ip) < 40+32 || ip[6] != 58 || ip[7] != 255 || ip[40] != 136 {
				continue
			}
			icmp := ip[40 : 40+int(binary.BigEndian.Uint16(ip[4:6]))]
			target := v6.As16()
			if checksum(ip[8:24], ip[24:40], icmp) != 0 {
				t.Errorf("neighbour advertisement with a bad checksum: % x", icmp)
			}
			if bytes.Equal(icmp[8:24], target[:]) && icmp[24] == 2 && bytes.Equal(icmp[26:32], f[6:12]) && icmp[4]&0x20 != 0 {
				nas++
			}
		}
	}
	if garps < 3 || nas < 3 {
		t.Errorf("heard %d gratuitous ARPs and %d neighbour advertisements, want 3 of each", garps, nas)
	}
	addrs := ns.Exec(t, "ip", "-o", "addr", "show", "dev", "eth0")
	if !strings.Contains(addrs, "10.99.0.100/32") || !strings.Contains(addrs, "fd00::100/128") {
		t.Errorf("eth0 has\n%s\nwant both VIPs", addrs)
	}
	for _, s := range o.Status() {
		if !s.Held || s.Announced != 3 || s.Error != "" {
			t.Errorf("Status %+v, want held after 3 announcements without error", s)
		}
	}

	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	addrs = ns.Exec(t, "ip", "-o", "addr", "show", "dev", "eth0")
	if strings.Contains(addrs, "10.99.0.100") || strings.Contains(addrs, "fd00::100") {
		t.Errorf("after Run eth0 still has a VIP:\n%s", addrs)
	}
	st := o.Status()
	if len(st) != 2 || st[0].VIP != v4 || st[0].Held || st[1].Held {
		t.Errorf("Status after Run = %+v, want both VIPs, in order, not held", st)
	}
}

func netIfIndex(name string) (int, error) {
	var ifr *unix.Ifreq
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, err
	}
	return int(ifr.Uint32()), nil
}

func TestNewRefusesBadVIPs(t *testing.T) {
	for _, a := range []string{"127.0.0.1", "0.0.0.0", "ff02::1", "fe80::1", "::ffff:10.0.0.1"} {
		if _, err := New(Config{Interface: "eth0", VIPs: []netip.Addr{netip.MustParseAddr(a)}}); err == nil {
			t.Errorf("New(VIPs: %s) = nil error, want one", a)
		}
	}
	if _, err := New(Config{VIPs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}); err == nil {
		t.Error("New without an interface = nil error, want one")
	}
}

// handElector grants the lead when the test sends it a lost channel.
type handElector struct{ grant chan chan struct{} }

func (e handElector) Campaign(ctx context.Context, _ string) (<-chan struct{}, error) {
	select {
	case lost := <-e.grant:
		return lost, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// TestOwnerHoldsOnlyWhileLeading: the VIP appears when the elector grants
// the lead and goes when the lead is lost, before any new campaign wins.
func TestOwnerHoldsOnlyWhileLeading(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := vethNS(t, "lead")
	e := handElector{grant: make(chan chan struct{})}
	o, stop := startOwner(t, Config{Interface: "eth0", VIPs: []netip.Addr{netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")}, Elector: e,
		Announcements: 1, Interval: 10 * time.Millisecond, NetNS: "/var/run/netns/" + ns.Name})
	defer stop()

	// An address the operator put there stays when the lead is lost.
	ns.Exec(t, "ip", "addr", "add", "10.99.0.101/32", "dev", "eth0")
	held := func() bool {
		return strings.Contains(ns.Exec(t, "ip", "-o", "addr", "show", "dev", "eth0"), "10.99.0.100/32")
	}
	waitFor := func(what string, cond func() bool) { t.Helper(); waitUntil(t, what, cond, nil) }
	if held() {
		t.Fatal("VIP held before the lead was granted")
	}
	lost := make(chan struct{})
	e.grant <- lost
	e.grant <- lost
	waitFor("the VIPs are held", func() bool { return held() && o.Status()[0].Held && o.Status()[1].Held })
	close(lost)
	waitFor("the VIPs are withdrawn", func() bool { return !held() && !o.Status()[0].Held && !o.Status()[1].Held })
	if !strings.Contains(ns.Exec(t, "ip", "-o", "addr", "show", "dev", "eth0"), "10.99.0.101/32") {
		t.Error("withdrawing removed 10.99.0.101, which the operator had put on eth0 before")
	}
}

// TestOwnerSet: while Run runs, Set takes new VIPs at once and withdraws
// dropped ones, which then leave Status; a VIP dropped and added back at
// once ends up held (its old cycle's withdrawal does not win); a missing
// interface is an error in Status, not a crash; when Run ends nothing of
// ours is left on the interface.
func TestOwnerSet(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	ns := vethNS(t, "set")
	a, b := netip.MustParseAddr("10.99.0.100"), netip.MustParseAddr("10.99.0.101")
	o, stop := startOwner(t, Config{Interface: "eth0", VIPs: []netip.Addr{a}, Announcements: 1, Interval: 10 * time.Millisecond, NetNS: "/var/run/netns/" + ns.Name})
	defer stop()
	on := func() string { return ns.Exec(t, "ip", "-o", "addr", "show", "dev", "eth0") }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		waitUntil(t, what, cond, func() string { return fmt.Sprintf("eth0:\n%s\nStatus: %+v", on(), o.Status()) })
	}
	heldOnly := func(want ...netip.Addr) func() bool {
		return func() bool {
			st := o.Status()
			if len(st) != len(want) {
				return false
			}
			for i, s := range st {
				if s.VIP != want[i] || !s.Held || !strings.Contains(on(), want[i].String()+"/32") {
					return false
				}
			}
			return true
		}
	}
	waitFor("a is held", heldOnly(a))
	if err := o.Set([]netip.Addr{a, b, b}); err != nil {
		t.Fatal(err)
	}
	waitFor("a and b are held", heldOnly(a, b))
	if err := o.Set([]netip.Addr{b}); err != nil {
		t.Fatal(err)
	}
	waitFor("only b is held", func() bool { return heldOnly(b)() && !strings.Contains(on(), a.String()+"/32") })
	// Drop b and add it back before its withdrawal can be seen.
	if err := o.Set(nil); err != nil {
		t.Fatal(err)
	}
	if err := o.Set([]netip.Addr{b}); err != nil {
		t.Fatal(err)
	}
	waitFor("b is held again", heldOnly(b))
	time.Sleep(50 * time.Millisecond)
	if !heldOnly(b)() {
		t.Fatalf("b no longer held after being added back; eth0:\n%s", on())
	}
	if err := o.Set([]netip.Addr{netip.MustParseAddr("127.0.0.1")}); err == nil {
		t.Error("Set(127.0.0.1) = nil error, want one")
	}
	if err := stop(); err != nil {
		t.Errorf("Run = %v", err)
	}
	if s := on(); strings.Contains(s, "10.99.0.") {
		t.Errorf("after Run eth0 still has a VIP:\n%s", s)
	}

	// A missing interface: Run keeps going and Status says why.
	o2, stop2 := startOwner(t, Config{Interface: "nope0", VIPs: []netip.Addr{a}, Interval: 10 * time.Millisecond, NetNS: "/var/run/netns/" + ns.Name})
	waitFor("the missing interface is reported", func() bool {
		st := o2.Status()
		return len(st) == 1 && !st[0].Held && strings.Contains(st[0].Error, "interface nope0")
	})
	if err := stop2(); err != nil {
		t.Errorf("Run = %v", err)
	}
}

// vethNS makes a namespace with a veth pair eth0 (up) and eth1.
func vethNS(t *testing.T, label string) *netns.NS {
	t.Helper()
	ns := netns.New(t, label)
	ns.Exec(t, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
	ns.Exec(t, "ip", "link", "set", "eth0", "up")
	return ns
}

// startOwner makes an Owner of cfg and runs it; stop ends Run and returns
// its error (calling it again returns the same).
func startOwner(t *testing.T, cfg Config) (*Owner, func() error) {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- o.Run(ctx) }()
	return o, sync.OnceValue(func() error { cancel(); return <-done })
}

// waitUntil polls cond for up to 5s; on timeout it fails with what and,
// when given, why().
func waitUntil(t *testing.T, what string, cond func() bool, why func() string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			more := ""
			if why != nil {
				more = "; " + why()
			}
			t.Fatalf("timed out waiting until %s%s", what, more)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
