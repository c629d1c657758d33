//go:build linux

package ipvs

// The TestGuest* tests run inside the qemu guest that TestKernel boots (the
// host's kernel has no IPVS). They program the guest kernel's real IPVS
// table through the Backend and read it back twice: through netlink, and
// through /proc/net/ip_vs, which the kernel formats itself.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

func requireGuest(t *testing.T) {
	t.Helper()
	if !inGuest() {
		t.Skip("runs inside the IPVS guest that TestKernel boots")
	}
}

// procDest and procService are /proc/net/ip_vs as the kernel prints it.
type procDest struct {
	Forward string // Masq, Route, Tunnel, Local
	Weight  int
}

type procService struct {
	Sched string
	Extra string // "persistent 300", …
	Dests map[netip.AddrPort]procDest
}

// readProc parses /proc/net/ip_vs into services keyed "TCP 192.0.2.1:80".
func readProc(t *testing.T) wantTable {
	t.Helper()
	// thread-self: /proc/net follows the main thread, which a test that
	// moves a locked thread to another namespace may have taken there.
	f, err := os.Open("/proc/thread-self/net/ip_vs")
	if err != nil {
		t.Fatalf("read /proc/net/ip_vs: %v", err)
	}
	defer f.Close()
	out := wantTable{}
	var cur string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 3 && (fields[0] == "TCP" || fields[0] == "UDP"):
			cur = fields[0] + " " + parseProcAddr(t, fields[1]).String()
			// "persistent 75000 FFFFFFFF" gives the timeout in jiffies; the
			// netlink reading checks the seconds.
			extra := ""
			if len(fields) > 3 {
				extra = fields[3]
			}
			out[cur] = procService{Sched: fields[2], Extra: extra, Dests: map[netip.AddrPort]procDest{}}
		case len(fields) >= 4 && fields[0] == "->" && fields[1] != "RemoteAddress:Port":
			w, err := strconv.Atoi(fields[3])
			if err != nil {
				t.Fatalf("/proc/net/ip_vs: weight in %q: %v", sc.Text(), err)
			}
			out[cur].Dests[parseProcAddr(t, fields[1])] = procDest{Forward: fields[2], Weight: w}
		}
	}
	return out
}

// parseProcAddr reads C0000201:0050 (IPv4 in hex) or [2001:0db8:…]:0050.
func parseProcAddr(t *testing.T, s string) netip.AddrPort {
	t.Helper()
	i := strings.LastIndex(s, ":")
	port, err := strconv.ParseUint(s[i+1:], 16, 16)
	if err != nil {
		t.Fatalf("/proc/net/ip_vs address %q: %v", s, err)
	}
	host := s[:i]
	var a netip.Addr
	if strings.HasPrefix(host, "[") {
		a, err = netip.ParseAddr(strings.Trim(host, "[]"))
	} else {
		var b []byte
		if b, err = hex.DecodeString(host); err == nil && len(b) == 4 {
			a = netip.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, binary.BigEndian.Uint32(b))))
		}
	}
	if err != nil || !a.IsValid() {
		t.Fatalf("/proc/net/ip_vs address %q: %v", s, err)
	}
	return netip.AddrPortFrom(a, uint16(port))
}

// kernelTable reads the table through netlink, as "tcp/VIP" -> sched and
// real servers.
func kernelTable(t *testing.T, b *Backend) map[serviceKey]*kernelService {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	k, err := b.conn.services()
	if err != nil {
		t.Fatalf("read services through netlink: %v", err)
	}
	return k
}

func procName(m Method) string {
	return map[Method]string{NAT: "Masq", DirectRouting: "Route", Tunnel: "Tunnel"}[m]
}

// wantTable is what a test expects of both readings of the table: services
// keyed "TCP 192.0.2.1:80" with their scheduler and real servers.
type wantTable map[string]procService

// checkTable compares the netlink and /proc readings with want.
func checkTable(t *testing.T, b *Backend, want wantTable) {
	t.Helper()
	proc := readProc(t)
	if diff := cmp.Diff(want, proc); diff != "" {
		t.Errorf("/proc/net/ip_vs mismatch (-want +got):\n%s", diff)
	}
	got := wantTable{}
	for k, s := range kernelTable(t, b) {
		ps := procService{Sched: s.Sched, Dests: map[netip.AddrPort]procDest{}}
		if s.Flags&flagPersistent != 0 {
			ps.Extra = "persistent"
		}
		for a, d := range s.Dests {
			ps.Dests[a] = procDest{Forward: procName(d.Method), Weight: d.Weight}
		}
		got[strings.ToUpper(protoName(k.Proto))+" "+k.Addr.String()] = ps
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("netlink reading mismatch (-want +got):\n%s", diff)
	}
}

func procDests(fwd string, ds map[string]int) map[netip.AddrPort]procDest {
	out := map[netip.AddrPort]procDest{}
	for a, w := range ds {
		out[aport(a)] = procDest{Forward: fwd, Weight: w}
	}
	return out
}

func mustApply(t *testing.T, b *Backend, v *view.View) dataplane.Report {
	t.Helper()
	rep, err := b.Apply(t.Context(), v)
	if err != nil {
		t.Fatalf("Apply(version %d) = %v", v.Version, err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("Apply(version %d) problems: %q", v.Version, rep.Problems)
	}
	return rep
}

func checkCounts(t *testing.T, rep dataplane.Report, added, updated, removed int) {
	t.Helper()
	if rep.Added != added || rep.Updated != updated || rep.Removed != removed {
		t.Errorf("Apply(version %d) changed +%d ~%d -%d, want +%d ~%d -%d", rep.Version, rep.Added, rep.Updated, rep.Removed, added, updated, removed)
	}
}

// guestState is the state of the reconcile test: a tcp and a udp listener
// on an IPv4 node and a tcp listener on an IPv6 node.
func guestState(web model.TargetGroup) ([]model.TargetGroup, []model.LoadBalancer) {
	dns := group("dns", model.ProtoUDP, 53, "10.0.1.9", "10.0.2.9")
	dns.Stickiness = &model.Stickiness{Type: model.StickySourceIP}
	six := group("six", model.ProtoTCP, 80, "2001:db8:1::1", "2001:db8:1::2")
	return []model.TargetGroup{web, dns, six}, []model.LoadBalancer{
		balancer("front", []string{"a=192.0.2.1"}, "tcp:80>web", "udp:53>dns"),
		balancer("sixfront", []string{"a=2001:db8::100"}, "tcp:80>six"),
	}
}

func webGroup(delay time.Duration, addrs ...string) model.TargetGroup {
	g := group("web", model.ProtoTCP, 80, addrs...)
	g.DeregistrationDelay = ptr(model.Duration(delay))
	return g
}

// TestGuestReconcile programs services, reconciles with no change, with a
// weight change and a leaving real server (drained at weight 0 and deleted
// after the deregistration delay), and closes; a service someone else made
// is never touched.
func TestGuestReconcile(t *testing.T) {
	requireGuest(t)
	foreign := serviceKey{Proto: protoTCP, Addr: aport("198.51.100.1:80")}
	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	if err := c.run(op{Kind: addService, Svc: foreign, Spec: &service{Sched: "rr"}}); err != nil {
		t.Fatalf("add a foreign service: %v", err)
	}
	if v, err := c.version(); err != nil || v == "" {
		t.Errorf("IPVS version = %q, %v", v, err)
	}

	reports := make(chan dataplane.Report, 4)
	b, err := New(Config{AllNodes: true, OnReport: func(r dataplane.Report) { reports <- r }})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	closed := false
	defer func() {
		if !closed {
			b.Close()
		}
	}()

	groups, lbs := guestState(webGroup(time.Second, "10.0.1.1", "10.0.1.2", "10.0.1.3"))
	v1 := buildView(t, 1, groups, lbs)
	rep := mustApply(t, b, v1)
	checkCounts(t, rep, 3+7, 0, 0)
	foreignProc := procService{Sched: "rr", Dests: map[netip.AddrPort]procDest{}}
	want := wantTable{
		"TCP 192.0.2.1:80":       {Sched: "wrr", Dests: procDests("Masq", map[string]int{"10.0.1.1:80": 1, "10.0.1.2:80": 1, "10.0.1.3:80": 1})},
		"UDP 192.0.2.1:53":       {Sched: "wrr", Extra: "persistent", Dests: procDests("Masq", map[string]int{"10.0.1.9:53": 1, "10.0.2.9:53": 1})},
		"TCP [2001:db8::100]:80": {Sched: "wrr", Dests: procDests("Masq", map[string]int{"[2001:db8:1::1]:80": 1, "[2001:db8:1::2]:80": 1})},
		"TCP 198.51.100.1:80":    foreignProc,
	}
	checkTable(t, b, want)
	if got := kernelTable(t, b)[serviceKey{protoUDP, aport("192.0.2.1:53")}]; got == nil || got.Timeout != 300 {
		t.Errorf("udp service persistence = %+v, want 300 s", got)
	}
	if len(rep.Services) != 3 {
		t.Errorf("report lists %d services, want 3: %+v", len(rep.Services), rep.Services)
	}

	rep = mustApply(t, b, buildView(t, 2, groups, lbs))
	checkCounts(t, rep, 0, 0, 0)

	// 10.0.1.1 weighs 5 now; 10.0.1.3 leaves and drains for one second.
	web := webGroup(time.Second, "10.0.1.1", "10.0.1.2")
	web.Targets[0].Weight = ptr(5)
	groups, lbs = guestState(web)
	drainStart := time.Now()
	rep = mustApply(t, b, buildView(t, 3, groups, lbs))
	checkCounts(t, rep, 0, 2, 0)
	want["TCP 192.0.2.1:80"] = procService{Sched: "wrr", Dests: procDests("Masq", map[string]int{"10.0.1.1:80": 5, "10.0.1.2:80": 1, "10.0.1.3:80": 0})}
	checkTable(t, b, want)

	select {
	case r := <-reports:
		if took := time.Since(drainStart); took < time.Second {
			t.Errorf("drained real server deleted after %v, before its 1s delay", took)
		}
		checkCounts(t, r, 0, 0, 1)
	case <-time.After(10 * time.Second):
		t.Fatalf("the drain did not end within 10s")
	}
	want["TCP 192.0.2.1:80"] = procService{Sched: "wrr", Dests: procDests("Masq", map[string]int{"10.0.1.1:80": 5, "10.0.1.2:80": 1})}
	checkTable(t, b, want)

	// The IPv6 balancer goes: its service drains as a whole (default delay
	// replaced by its group's 0s), and the rest stays.
	web.DeregistrationDelay = ptr(model.Duration(0))
	groups, lbs = guestState(web)
	groups[2].DeregistrationDelay = ptr(model.Duration(0))
	mustApply(t, b, buildView(t, 4, groups, lbs))
	rep = mustApply(t, b, buildView(t, 5, groups[:2], lbs[:1]))
	checkCounts(t, rep, 0, 0, 1)
	delete(want, "TCP [2001:db8::100]:80")
	checkTable(t, b, want)

	if err := b.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	closed = true
	checkTable(t, b2OrNil(t), wantTable{"TCP 198.51.100.1:80": foreignProc})
	if err := c.run(op{Kind: delService, Svc: foreign}); err != nil {
		t.Errorf("delete the foreign service: %v", err)
	}
}

// b2OrNil returns a fresh backend to read the table with after the first
// one closed.
func b2OrNil(t *testing.T) *Backend {
	b, err := New(Config{AllNodes: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestGuestMethodsAndSchedulers programs the same balancer with every
// forwarding method and scheduler in turn; each backend takes over the table
// the previous one left, so scheduler and method changes go through
// update, and read back as set.
func TestGuestMethodsAndSchedulers(t *testing.T) {
	requireGuest(t)
	groups, lbs := guestState(webGroup(0, "10.0.1.1", "10.0.1.2"))
	groups = groups[:1]
	lbs = []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>web")}
	v := buildView(t, 1, groups, lbs)
	first := true
	for _, m := range []Method{NAT, DirectRouting, Tunnel} {
		for _, sched := range []string{"rr", "wrr", "lc", "mh"} {
			t.Run(m.String()+"/"+sched, func(t *testing.T) {
				b, err := New(Config{AllNodes: true, Method: m, Scheduler: sched})
				if err != nil {
					t.Fatal(err)
				}
				rep := mustApply(t, b, v)
				if first {
					checkCounts(t, rep, 3, 0, 0)
					first = false
				} else if rep.Added != 0 || rep.Removed != 0 || rep.Updated == 0 {
					t.Errorf("changing to %s/%s changed +%d ~%d -%d, want updates only", m, sched, rep.Added, rep.Updated, rep.Removed)
				}
				checkTable(t, b, wantTable{
					"TCP 192.0.2.1:80": {Sched: sched, Dests: procDests(procName(m), map[string]int{"10.0.1.1:80": 1, "10.0.1.2:80": 1})},
				})
				// Leave the table for the next backend: stop without Close.
				b.mu.Lock()
				b.closed = true
				close(b.stop)
				b.conn.close()
				b.mu.Unlock()
				<-b.done
			})
		}
	}
	b, err := New(Config{AllNodes: true})
	if err != nil {
		t.Fatal(err)
	}
	mustApply(t, b, v)
	if err := b.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if got := readProc(t); len(got) != 0 {
		t.Errorf("after Close /proc/net/ip_vs has %v, want nothing", got)
	}
}

// TestGuestRepairsDrift deletes a real server and changes a weight behind
// the backend's back; the backend's timed read of the table finds and
// repairs both without an Apply.
func TestGuestRepairsDrift(t *testing.T) {
	requireGuest(t)
	reports := make(chan dataplane.Report, 16)
	b, err := New(Config{AllNodes: true, ResyncInterval: 300 * time.Millisecond, OnReport: func(r dataplane.Report) { reports <- r }})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	web := webGroup(0, "10.0.1.1", "10.0.1.2")
	lbs := []model.LoadBalancer{balancer("front", []string{"a=192.0.2.1"}, "tcp:80>web")}
	mustApply(t, b, buildView(t, 1, []model.TargetGroup{web}, lbs))

	c, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	svc := serviceKey{protoTCP, aport("192.0.2.1:80")}
	if err := c.run(op{Kind: delDest, Svc: svc, Addr: aport("10.0.1.1:80")}); err != nil {
		t.Fatal(err)
	}
	if err := c.run(op{Kind: setDest, Svc: svc, Addr: aport("10.0.1.2:80"), Dest: dest{Weight: 9}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-reports:
			if r.Added == 0 && r.Updated == 0 {
				continue // a timed read that came before the drift
			}
			checkCounts(t, r, 1, 1, 0)
			checkTable(t, b, wantTable{"TCP 192.0.2.1:80": {Sched: "wrr", Dests: procDests("Masq", map[string]int{"10.0.1.1:80": 1, "10.0.1.2:80": 1})}})
			return
		case <-deadline:
			t.Fatalf("the drift was not repaired within 10s; table: %v", readProc(t))
		}
	}
}

// TestGuestPackets sends real TCP connections through an IPVS NAT service:
// the VIP and two real servers are addresses on lo, the client is this
// process. Round robin alternates between the servers; a server drained to
// weight 0 gets no new connection.
func TestGuestPackets(t *testing.T) {
	requireGuest(t)
	for _, a := range []string{"10.255.0.1/32", "10.255.0.2/32", "10.255.0.3/32"} {
		if out, err := exec.Command("ip", "addr", "add", a, "dev", "lo").CombinedOutput(); err != nil {
			t.Fatalf("ip addr add %s: %v: %s", a, err, out)
		}
	}
	for _, srv := range []string{"10.255.0.2:8080", "10.255.0.3:8080"} {
		l, err := net.Listen("tcp", srv)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%s\n", srv)
				c.Close()
			}
		}()
	}
	web := group("web", model.ProtoTCP, 8080, "10.255.0.2", "10.255.0.3")
	web.DeregistrationDelay = ptr(model.Duration(time.Hour))
	lbs := []model.LoadBalancer{balancer("front", []string{"a=10.255.0.1"}, "tcp:80>web")}
	b, err := New(Config{Scheduler: "rr"}) // the VIP is local: no AllNodes needed
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustApply(t, b, buildView(t, 1, []model.TargetGroup{web}, lbs))

	ask := func() string {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", "10.255.0.1:80")
		if err != nil {
			t.Fatalf("connect to the VIP: %v", err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b, err := io.ReadAll(c)
		if err != nil {
			t.Fatalf("read from the VIP: %v", err)
		}
		return strings.TrimSpace(string(b))
	}
	var got []string
	for range 4 {
		got = append(got, ask())
	}
	slices.Sort(got)
	if want := []string{"10.255.0.2:8080", "10.255.0.2:8080", "10.255.0.3:8080", "10.255.0.3:8080"}; !slices.Equal(got, want) {
		t.Errorf("4 connections through rr reached %q, want each server twice", got)
	}

	web.Targets = web.Targets[:1] // 10.255.0.3 leaves: weight 0, draining for an hour
	rep := mustApply(t, b, buildView(t, 2, []model.TargetGroup{web}, lbs))
	checkCounts(t, rep, 0, 1, 0)
	for range 4 {
		if got := ask(); got != "10.255.0.2:8080" {
			t.Errorf("a new connection reached %s, which drains at weight 0", got)
		}
	}
}

// TestGuestDirectRouting sends TCP through a direct-routing service (the
// seed's ipvsadm -g) and through a tunnel service (ipvsadm -i) to a real
// server in a network namespace joined by a veth pair. The server sees the
// connection addressed to the VIP itself (direct routing rewrote only the
// MAC; the tunnel carried the packet inside IP-in-IP, which the server's
// tunl0 counts), and answers the client directly.
func TestGuestDirectRouting(t *testing.T) {
	requireGuest(t)
	for _, tt := range []struct {
		method Method
		net    string // the /24 of the veth pair, and .100 of it the VIP
		a, b   string // veth names on the balancer's and the server's side
	}{
		{DirectRouting, "10.99.0", "va", "vb"},
		{Tunnel, "10.98.0", "vc", "vd"},
	} {
		t.Run(tt.method.String(), func(t *testing.T) {
			throughNamespace(t, tt.method, tt.net, tt.a, tt.b)
		})
	}
}

// netnsThread is a locked OS thread in a network namespace of its own; the
// commands it runs are forked from it and so run in that namespace.
type netnsThread struct {
	tid  int
	reqs chan func()
}

func newNetnsThread(t *testing.T) *netnsThread {
	n := &netnsThread{reqs: make(chan func())}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			started <- err
			return
		}
		n.tid = unix.Gettid()
		started <- nil
		for f := range n.reqs {
			f()
		}
	}()
	if err := <-started; err != nil {
		t.Fatalf("new network namespace: %v", err)
	}
	t.Cleanup(func() { close(n.reqs) })
	return n
}

// do runs f on the namespace's thread.
func (n *netnsThread) do(f func()) {
	done := make(chan struct{})
	n.reqs <- func() { f(); close(done) }
	<-done
}

// sh runs a shell command in the namespace.
func (n *netnsThread) sh(t *testing.T, cmd string) string {
	t.Helper()
	var (
		out []byte
		err error
	)
	n.do(func() { out, err = exec.Command("sh", "-c", cmd).CombinedOutput() })
	if err != nil {
		t.Fatalf("in the server's namespace: %s: %v: %s", cmd, err, out)
	}
	return string(out)
}

func throughNamespace(t *testing.T, m Method, subnet, va, vb string) {
	vip, lbAddr, rsAddr := subnet+".100", subnet+".1", subnet+".2"
	sh := func(cmd string) {
		t.Helper()
		if out, err := exec.Command("sh", "-c", cmd).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", cmd, err, out)
		}
	}
	// busybox ip names the peer veth0 whatever it is told.
	sh("ip link add " + va + " type veth && ip link set veth0 name " + vb)
	// The balancer holds the VIP and accepts the server's answers, which come
	// from that (local) address.
	sh("ip addr add " + lbAddr + "/24 dev " + va + " && ip link set " + va + " up && ip addr add " + vip + "/32 dev lo")
	sh("for c in all " + va + "; do echo 1 > /proc/sys/net/ipv4/conf/$c/accept_local; echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter; done")

	// The real server holds the VIP on lo and, for the tunnel, decapsulates
	// on tunl0 (which needs rp_filter off: the inner source is not routed
	// through tunl0). Its listening socket stays in its namespace.
	rs := newNetnsThread(t)
	sh(fmt.Sprintf("ip link set %s netns %d", vb, rs.tid))
	rs.sh(t, "ip link set lo up && ip addr add "+vip+"/32 dev lo && ip addr add "+rsAddr+"/24 dev "+vb+" && ip link set "+vb+" up")
	if m == Tunnel {
		rs.sh(t, "ip link set tunl0 up && for c in all tunl0 "+vb+"; do echo 0 > /proc/sys/net/ipv4/conf/$c/rp_filter; done")
	}
	var (
		ln  net.Listener
		err error
	)
	rs.do(func() { ln, err = net.Listen("tcp", vip+":80") })
	if err != nil {
		t.Fatalf("real server: %v", err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "local %s\n", c.LocalAddr())
			c.Close()
		}
	}()

	web := group("web", model.ProtoTCP, 80, rsAddr)
	web.DeregistrationDelay = ptr(model.Duration(0))
	lbs := []model.LoadBalancer{balancer("front", []string{"a=" + vip}, "tcp:80>web")}
	b, err := New(Config{Method: m, Scheduler: "mh"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	mustApply(t, b, buildView(t, 1, []model.TargetGroup{web}, lbs))
	checkTable(t, b, wantTable{"TCP " + vip + ":80": {Sched: "mh", Dests: procDests(procName(m), map[string]int{rsAddr + ":80": 1})}})

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// From the balancer's veth address: a connection from the VIP to the VIP
	// would be answered by the real server to its own lo.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(lbAddr)}}
	c, err := d.DialContext(ctx, "tcp", vip+":80")
	if err != nil {
		out, _ := exec.Command("sh", "-c", "cat /proc/net/ip_vs_conn; ip neigh; ip route").CombinedOutput()
		t.Fatalf("connect to the VIP: %v\n%s\nserver side:\n%s", err, out, rs.sh(t, "cat /proc/net/dev"))
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read from the VIP: %v", err)
	}
	if want := "local " + vip + ":80\n"; string(got) != want {
		t.Errorf("the real server answered %q, want %q (the VIP as its local address)", got, want)
	}
	if m == Tunnel {
		// /proc/net/dev of a process forked in the namespace: its devices.
		dev := rs.sh(t, "cat /proc/net/dev")
		var rx int
		for _, line := range strings.Split(dev, "\n") {
			if name, rest, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && name == "tunl0" {
				if f := strings.Fields(rest); len(f) > 1 {
					rx, _ = strconv.Atoi(f[1]) // bytes, packets, …
				}
			}
		}
		if rx == 0 {
			t.Errorf("the server's tunl0 received no packets: the connection did not come through the tunnel\n%s", dev)
		}
	}
}

// TestGuestSyncTime measures how long Apply takes to bring the kernel in
// line when one target of a 1,000-target group changes (leaves, then comes
// back), checks that each Apply made exactly that change, and prints the
// percentiles for TestKernel to report. It runs 60 rounds, or as many as
// SWITCHBOARD_IPVS_SYNC_ROUNDS says (TestKernel passes it through).
func TestGuestSyncTime(t *testing.T) {
	requireGuest(t)
	const n = 1000
	rounds := 60
	if r, err := strconv.Atoi(os.Getenv(syncRoundsEnv)); err == nil && r > 0 {
		rounds = r
	}
	var addrs []string
	for i := range n {
		addrs = append(addrs, fmt.Sprintf("10.1.%d.%d", i/250, i%250+1))
	}
	full := group("big", model.ProtoTCP, 80, addrs...)
	full.DeregistrationDelay = ptr(model.Duration(0))
	for i := range full.Targets {
		full.Targets[i].Zone = "a"
	}
	lbs := []model.LoadBalancer{balancer("front", []string{"a=192.0.2.50"}, "tcp:80>big")}
	// Odd rounds: target 500 leaves (deregistration delay 0: deleted at
	// once); even rounds: it is back.
	part := full
	part.Targets = slices.Delete(slices.Clone(full.Targets), n/2, n/2+1)
	all := buildView(t, 1, []model.TargetGroup{full}, lbs)
	less := buildView(t, 2, []model.TargetGroup{part}, lbs)
	views := []*view.View{all}
	for i := range rounds {
		views = append(views, []*view.View{less, all}[i%2])
	}

	b, err := New(Config{AllNodes: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	start := time.Now()
	mustApply(t, b, views[0])
	t.Logf("programmed %d real servers in %v", n, time.Since(start))
	took := make([]time.Duration, 0, rounds)
	for _, v := range views[1:] {
		start := time.Now()
		rep, err := b.Apply(t.Context(), v)
		took = append(took, time.Since(start))
		if len(took)%(max(rounds/4, 1)) == 0 {
			t.Logf("%d rounds, last %v", len(took), took[len(took)-1])
		}
		if err != nil || rep.Added+rep.Removed != 1 || len(rep.Problems) > 0 {
			t.Fatalf("Apply(version %d) = +%d -%d %q, %v; want one change", v.Version, rep.Added, rep.Removed, rep.Problems, err)
		}
	}
	if got := len(kernelTable(t, b)[serviceKey{protoTCP, aport("192.0.2.50:80")}].Dests); got != n {
		t.Errorf("after the rounds the service has %d real servers, want %d", got, n)
	}
	// Where the time goes: reading the table, and the pure translation and diff.
	const reps = 5
	var read, compute time.Duration
	for range reps {
		start := time.Now()
		kernel := kernelTable(t, b)
		read += time.Since(start)
		start = time.Now()
		want, _ := desired(all, Config{}, nil)
		plan(kernel, want, func(netip.Addr) bool { return true }, nil, map[serviceKey]time.Duration{}, time.Now())
		compute += time.Since(start)
	}
	fmt.Printf("%sread the table (1 service, %d real servers) %v; translate and diff %v (mean of %d)\n", measureMarker, n, read/reps, compute/reps, reps)
	slices.Sort(took)
	pct := func(p float64) time.Duration { return took[min(len(took)-1, int(float64(len(took))*p))] }
	fmt.Printf("%ssync one target of %d changed: n=%d p50=%v p90=%v p99=%v max=%v (Apply until the kernel acknowledged)\n",
		measureMarker, n, rounds, pct(0.50).Round(time.Microsecond), pct(0.90).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), took[len(took)-1].Round(time.Microsecond))
}

// TestGuestNeedsCapability runs itself again as an unprivileged user, where
// New must fail and say that IPVS needs CAP_NET_ADMIN.
func TestGuestNeedsCapability(t *testing.T) {
	requireGuest(t)
	if os.Getenv("SWITCHBOARD_IPVS_UNPRIVILEGED") == "1" {
		b, err := New(Config{})
		if err == nil {
			b.Close()
			t.Fatal("New() without CAP_NET_ADMIN = nil error")
		}
		if !strings.Contains(err.Error(), "needs CAP_NET_ADMIN") {
			t.Fatalf("New() without CAP_NET_ADMIN = %v, want it to say so", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestGuestNeedsCapability$", "-test.v")
	cmd.Env = append(os.Environ(), "SWITCHBOARD_IPVS_UNPRIVILEGED=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestGuestNeedsCapability") {
		t.Errorf("the unprivileged run failed: %v\n%s", err, out)
	}
}
