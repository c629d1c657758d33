//go:build linux

package nft_test

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/dataplane/nft"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/testutil/netns"
	"github.com/switchboard/switchboard/internal/view"
	"github.com/switchboard/switchboard/internal/vip"
)

var (
	lanPrefix = netip.MustParsePrefix("10.99.0.0/24")
	vipAddr   = netip.MustParseAddr("10.99.0.100")
	vip6Addr  = netip.MustParseAddr("fd00::100")
)

// payload is what each target sends after its name, so that the bytes of
// the replies stand out on the balancer's counters.
const payload = 32 << 10

// lab is a client, a balancer and targets on one LAN, each target running
// a TCP server that answers its name and payload bytes, then closes.
type lab struct {
	t       *testing.T
	lan     *netns.LAN
	client  *netns.Host
	lb      *netns.Host
	targets []*netns.Host
	port    int // the targets' port
	dsr     bool
	proto   model.Protocol // of the listener and group; default tcp
	vip     netip.Addr     // vipAddr, or vip6Addr for an IPv6 lab
}

func newLab(t *testing.T, targets int, dsr bool) *lab { return newLabAt(t, vipAddr, targets, dsr) }

// newLabAt is newLab with the VIP vip: with an IPv6 VIP, the balancer
// forwards to the targets' IPv6 addresses.
func newLabAt(t *testing.T, vip netip.Addr, targets int, dsr bool) *lab {
	netns.Require(t)
	netns.RequireCommand(t, "nft")
	l := &lab{t: t, dsr: dsr, port: 8080, vip: vip}
	if dsr {
		l.port = 80
	}
	l.lan = netns.NewLAN(t, lanPrefix, "client", "lb")
	l.client, l.lb = l.lan.Host("client"), l.lan.Host("lb")
	// The balancer answers ARP for the VIP (internal/vip's job in serve).
	if vip.Is6() {
		l.lb.Exec(t, "ip", "-6", "addr", "add", vip.String()+"/128", "dev", netns.Iface, "nodad")
	} else {
		l.lb.Exec(t, "ip", "addr", "add", vip.String()+"/32", "dev", netns.Iface)
	}
	if !dsr {
		l.lb.Exec(t, "sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	}
	for range targets {
		l.addTarget()
	}
	return l
}

// addTarget wires a new target to the LAN and starts its server.
func (l *lab) addTarget() *netns.Host {
	t := l.t
	name := fmt.Sprintf("t%d", len(l.targets)+1)
	h := l.lan.Add(t, name)
	if l.dsr {
		if err := h.Do(func() error { return vip.SetupTarget(l.vip) }); err != nil {
			t.Fatalf("SetupTarget(%s) in %s: %v", l.vip, name, err)
		}
	}
	var ln net.Listener
	if err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", l.port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var pc net.PacketConn
	if err := h.Do(func() (err error) {
		pc, err = net.ListenPacket("udp", fmt.Sprintf(":%d", l.port))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close(); wg.Wait() })
	wg.Go(func() {
		buf := make([]byte, 1500)
		for {
			_, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(name), from)
		}
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				fmt.Fprintf(c, "%s\n", name)
				c.Write(make([]byte, payload))
			})
		}
	})
	l.targets = append(l.targets, h)
	return h
}

// dial connects from the client to the VIP (from localPort when not 0) and
// returns the name of the target that answered.
func (l *lab) dial(localPort int) (string, error) {
	var c net.Conn
	err := l.client.Do(func() (err error) {
		// Tests count the client's SYN resends; the timeout only bounds a
		// test that fails.
		d := net.Dialer{Timeout: 5 * time.Second}
		if localPort != 0 {
			d.LocalAddr = &net.TCPAddr{Port: localPort}
		}
		c, err = d.Dial("tcp", netip.AddrPortFrom(l.vip, 80).String())
		return err
	})
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(c)
	name, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	n, err := io.Copy(io.Discard, r)
	if err != nil || n != payload {
		return "", fmt.Errorf("read %d of %d payload bytes: %v", n, payload, err)
	}
	return strings.TrimSpace(name), nil
}

// spread dials n times (from ports base…base+n-1 when base > 0) and
// returns which target answered each dial.
func (l *lab) spread(n, base int) []string {
	l.t.Helper()
	out := make([]string, n)
	for i := range out {
		port := 0
		if base > 0 {
			port = base + i
		}
		name, err := l.dial(port)
		if err != nil {
			l.t.Fatalf("dial %s port 80 (from port %d): %v", l.vip, port, err)
		}
		out[i] = name
	}
	return out
}

func count(names []string) map[string]int {
	m := map[string]int{}
	for _, n := range names {
		m[n]++
	}
	return m
}

// build is the view of a balancer "edge" with a node at the VIP whose tcp/80
// listener forwards to the group web of the lab's targets, through nft in
// mode, with the targets named in down unhealthy.
func (l *lab) build(version uint64, mode model.DataPlaneMode, down ...string) *view.View {
	l.t.Helper()
	s := &model.State{
		Zones: []model.Zone{{Name: "a"}},
		TargetGroups: []model.TargetGroup{{
			Name: "web", Protocol: cmp.Or(l.proto, model.ProtoTCP), Port: l.port,
		}},
		LoadBalancers: []model.LoadBalancer{{
			Name:  "edge",
			Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{l.vip}}},
			Listeners: []model.Listener{{Protocol: cmp.Or(l.proto, model.ProtoTCP), Port: 80, DefaultAction: model.Action{
				Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}},
			}}},
			DataPlane: &model.DataPlane{Backend: model.BackendNft, Mode: mode, Interface: netns.Iface},
		}},
	}
	statuses := map[state.Key]state.Status{}
	for i, h := range l.targets {
		addr := h.Addr.Addr()
		if l.vip.Is6() {
			addr = h.Addr6.Addr()
		}
		s.TargetGroups[0].Targets = append(s.TargetGroups[0].Targets, model.Target{Address: addr, Zone: "a"})
		for _, d := range down {
			if d == fmt.Sprintf("t%d", i+1) {
				ap := netip.AddrPortFrom(addr, uint16(l.port))
				statuses[state.Key{Check: state.GroupCheck("web"), Target: ap}] = state.Status{Healthy: false, Observed: true, Reason: "test says down"}
			}
		}
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		l.t.Fatalf("test state is invalid: %v", err)
	}
	return view.Build(version, s, state.NewSnapshot(version, statuses), time.Now())
}

func (l *lab) backend() *nft.Backend {
	l.t.Helper()
	b, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + l.lb.Name})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { b.Close() })
	return b
}

func apply(t *testing.T, b *nft.Backend, v *view.View) dataplane.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rep, err := b.Apply(ctx, v)
	if err != nil {
		t.Fatalf("Apply(version %d): %v (problems: %q)", v.Version, err, rep.Problems)
	}
	return rep
}

// tables lists the lb namespace's nftables tables as "family name".
func (l *lab) tables() []string {
	l.t.Helper()
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(l.lb.Exec(l.t, "nft", "list", "tables")), "\n") {
		if s := strings.TrimPrefix(line, "table "); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// elements counts the elements of every map of our table of family fam.
func (l *lab) elements(fam nftables.TableFamily) int {
	l.t.Helper()
	h := l.lb.Handle
	c, err := nftables.New(nftables.WithNetNSFd(int(h)))
	if err != nil {
		l.t.Fatal(err)
	}
	sets, err := c.GetSets(&nftables.Table{Name: nft.TableName, Family: fam})
	if err != nil {
		l.t.Fatalf("list maps: %v", err)
	}
	n := 0
	for _, s := range sets {
		els, err := c.GetSetElements(s)
		if err != nil {
			l.t.Fatal(err)
		}
		n += len(els)
	}
	return n
}

func TestNATReachesEveryHealthyTarget(t *testing.T) {
	l := newLab(t, 3, false)
	// A table of someone else's that we must never touch.
	l.lb.Exec(t, "nft", "add table inet other; add chain inet other c { type filter hook input priority 0; }; add rule inet other c counter")
	b := l.backend()
	rep := apply(t, b, l.build(1, model.ModeNAT))
	if len(rep.Problems) > 0 || len(rep.Services) != 1 || len(rep.Services[0].Targets) != 3 {
		t.Fatalf("Apply report = %+v, want one service with 3 targets and no problems", rep)
	}
	if n := l.elements(nftables.TableFamilyIPv4); n != model.DefaultTableSize {
		t.Errorf("map holds %d slots, want %d", n, model.DefaultTableSize)
	}
	got := count(l.spread(60, 0))
	for _, name := range []string{"t1", "t2", "t3"} {
		if got[name] == 0 {
			t.Errorf("60 connections to the VIP reached %v; none reached %s", got, name)
		}
	}

	// Applying the same view again changes nothing, and so does a new
	// backend, which knows only what it reads from the kernel.
	if rep := apply(t, b, l.build(1, model.ModeNAT)); rep.Added+rep.Updated+rep.Removed != 0 {
		t.Errorf("second Apply of the same view changed %d/%d/%d objects, want none", rep.Added, rep.Updated, rep.Removed)
	}
	if rep := apply(t, l.backend(), l.build(1, model.ModeNAT)); rep.Added+rep.Updated+rep.Removed != 0 {
		t.Errorf("a new backend's Apply of the programmed view changed %d/%d/%d objects, want none", rep.Added, rep.Updated, rep.Removed)
	}

	// t2 fails its health check: it gets no new flows.
	rep = apply(t, b, l.build(2, model.ModeNAT, "t2"))
	if rep.Added != 0 || rep.Removed != 0 || rep.Updated < model.DefaultTableSize/4 || rep.Updated > model.DefaultTableSize/2 {
		t.Errorf("t2 down rewrote %d slots (added %d, removed %d), want about a third of %d, only updates", rep.Updated, rep.Added, rep.Removed, model.DefaultTableSize)
	}
	got = count(l.spread(60, 0))
	if got["t2"] != 0 || got["t1"] == 0 || got["t3"] == 0 {
		t.Errorf("with t2 unhealthy, 60 connections reached %v; want t1 and t3 only", got)
	}

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if tabs := l.tables(); strings.Join(tabs, ",") != "inet other" {
		t.Errorf("after Close the tables are %q, want only the untouched %q", tabs, "inet other")
	}
	if out := l.lb.Exec(t, "nft", "list", "chain", "inet", "other", "c"); !strings.Contains(out, "counter packets") {
		t.Errorf("someone else's chain changed:\n%s", out)
	}
}

func TestDSRRepliesBypassTheBalancerAndMovesOnlyTheNewShare(t *testing.T) {
	l := newLab(t, 3, true)
	b := l.backend()
	rep := apply(t, b, l.build(1, model.ModeDSR))
	if len(rep.Problems) > 0 || len(rep.Services) != 1 || len(rep.Services[0].Targets) != 3 {
		t.Fatalf("Apply report = %+v, want one service with 3 targets and no problems", rep)
	}
	if n := l.elements(nftables.TableFamilyNetdev); n != model.DefaultTableSize {
		t.Errorf("map holds %d slots, want %d", n, model.DefaultTableSize)
	}

	// 200 flows from fixed source ports: every target answers, and the
	// replies (32 KiB each) do not pass the balancer.
	const flows, basePort = 200, 20000
	rx0, tx0 := l.lb.Counter(t, netns.Iface, "rx_bytes"), l.lb.Counter(t, netns.Iface, "tx_bytes")
	syn0 := l.client.SNMP(t, "TcpExt", "TCPSynRetrans")
	before := l.spread(flows, basePort)
	rx1, tx1 := l.lb.Counter(t, netns.Iface, "rx_bytes"), l.lb.Counter(t, netns.Iface, "tx_bytes")
	// No first SYN got lost on the way, in particular not to a target
	// whose neighbour entry on the balancer was still cold: the client
	// never had to resend one.
	if n := l.client.SNMP(t, "TcpExt", "TCPSynRetrans") - syn0; n != 0 {
		t.Errorf("the client resent %d SYNs over %d flows; want none", n, flows)
	}
	got := count(before)
	for _, name := range []string{"t1", "t2", "t3"} {
		if got[name] == 0 {
			t.Errorf("%d flows to the VIP reached %v; none reached %s", flows, got, name)
		}
	}
	replies := uint64(flows * payload)
	if rx := rx1 - rx0; rx > replies/10 {
		t.Errorf("the balancer received %d bytes while the targets sent %d bytes of replies: replies pass the balancer", rx, replies)
	}
	if tx := tx1 - tx0; tx == 0 || tx > replies/10 {
		t.Errorf("the balancer sent %d bytes; want the client's packets only (some, far below %d)", tx, replies)
	}

	// A fourth target joins: about a quarter of the slots and of the flows
	// move, all of them to the new target (Maglev's 1/n), give or take
	// Maglev's small collateral and the sampling of 200 flows.
	l.addTarget()
	rep = apply(t, b, l.build(2, model.ModeDSR))
	moved := float64(rep.Updated) / model.DefaultTableSize
	t.Logf("adding a 4th target rewrote %d of %d slots (%.1f%%; 1/n = 25%%) in %v", rep.Updated, model.DefaultTableSize, 100*moved, rep.Took)
	if moved < 0.23 || moved > 0.28 || rep.Added != 0 || rep.Removed != 0 {
		t.Errorf("adding a 4th target rewrote %d slots (%.1f%%), added %d, removed %d; want about 25%%, updates only", rep.Updated, 100*moved, rep.Added, rep.Removed)
	}
	after := l.spread(flows, basePort)
	toNew, elsewhere := 0, 0
	for i := range after {
		switch {
		case after[i] == before[i]:
		case after[i] == "t4":
			toNew++
		default:
			elsewhere++
		}
	}
	t.Logf("%d of %d flows moved to t4 (%.1f%%; 1/n = 25%%), %d elsewhere", toNew, flows, 100*float64(toNew)/flows, elsewhere)
	if f := float64(toNew) / flows; f < 0.13 || f > 0.37 {
		t.Errorf("%d of %d flows moved to the new target (%.0f%%), want about 25%%", toNew, flows, 100*f)
	}
	if elsewhere > flows/50 {
		t.Errorf("%d of %d flows moved between old targets, want at most 2%%", elsewhere, flows)
	}

	// t1 fails its health check: it gets no new flows.
	apply(t, b, l.build(3, model.ModeDSR, "t1"))
	got = count(l.spread(60, 0))
	if got["t1"] != 0 || len(got) != 3 {
		t.Errorf("with t1 unhealthy, 60 flows reached %v; want t2, t3 and t4 only", got)
	}

	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if tabs := l.tables(); len(tabs) != 0 {
		t.Errorf("after Close the tables are %q, want none", tabs)
	}
}

// TestNATSpreadsUDP: datagrams to the VIP from 60 client sockets are
// answered by every target, through the balancer.
func TestNATSpreadsUDP(t *testing.T) {
	l := newLab(t, 3, false)
	l.proto = model.ProtoUDP
	b := l.backend()
	if rep := apply(t, b, l.build(1, model.ModeNAT)); len(rep.Problems) > 0 || len(rep.Services) != 1 || rep.Services[0].Protocol != "udp" {
		t.Fatalf("Apply report = %+v, want one udp service and no problems", rep)
	}
	got := map[string]int{}
	for range 60 {
		var c net.Conn
		if err := l.client.Do(func() (err error) {
			c, err = net.Dial("udp", netip.AddrPortFrom(l.vip, 80).String())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		_, err := c.Write([]byte("who?"))
		n := 0
		if err == nil {
			n, err = c.Read(buf)
		}
		c.Close()
		if err != nil {
			t.Fatalf("udp exchange with %s:80: %v", vipAddr, err)
		}
		got[string(buf[:n])]++
	}
	for _, name := range []string{"t1", "t2", "t3"} {
		if got[name] == 0 {
			t.Errorf("60 udp flows reached %v; none reached %s", got, name)
		}
	}
}

// TestIPv6 runs NAT and DSR for an IPv6 VIP: every target answers, DSR
// replies bypass the balancer, an unhealthy target gets no flows, and
// Close leaves nothing.
func TestIPv6(t *testing.T) {
	for _, mode := range []model.DataPlaneMode{model.ModeNAT, model.ModeDSR} {
		t.Run(string(mode), func(t *testing.T) {
			l := newLabAt(t, vip6Addr, 3, mode == model.ModeDSR)
			b := l.backend()
			if rep := apply(t, b, l.build(1, mode)); len(rep.Problems) > 0 || len(rep.Services) != 1 || len(rep.Services[0].Targets) != 3 {
				t.Fatalf("Apply report = %+v, want one service with 3 targets and no problems", rep)
			}
			rx0 := l.lb.Counter(t, netns.Iface, "rx_bytes")
			syn0 := l.client.SNMP(t, "TcpExt", "TCPSynRetrans")
			got := count(l.spread(60, 0))
			rx := l.lb.Counter(t, netns.Iface, "rx_bytes") - rx0
			// No first SYN got lost on the way, in particular not to a
			// target whose neighbour entry on the balancer was still cold.
			if n := l.client.SNMP(t, "TcpExt", "TCPSynRetrans") - syn0; n != 0 {
				t.Errorf("the client resent %d SYNs over 60 connections; want none", n)
			}
			for _, name := range []string{"t1", "t2", "t3"} {
				if got[name] == 0 {
					t.Errorf("60 connections to [%s]:80 reached %v; none reached %s", l.vip, got, name)
				}
			}
			replies := uint64(60 * payload)
			if mode == model.ModeDSR && rx > replies/10 {
				t.Errorf("the balancer received %d bytes while the targets sent %d bytes of replies: replies pass the balancer", rx, replies)
			}
			if mode == model.ModeNAT && rx < replies {
				t.Errorf("the balancer received %d bytes, fewer than the %d bytes of replies NAT brings back through it", rx, replies)
			}
			apply(t, b, l.build(2, mode, "t3"))
			if got := count(l.spread(30, 0)); got["t3"] != 0 {
				t.Errorf("with t3 unhealthy, 30 connections reached %v", got)
			}
			if err := b.Close(); err != nil {
				t.Fatal(err)
			}
			if tabs := l.tables(); len(tabs) != 0 {
				t.Errorf("after Close the tables are %q, want none", tabs)
			}
		})
	}
}
