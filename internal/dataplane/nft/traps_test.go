//go:build linux

package nft_test

import (
	"context"
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/dataplane/nft"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/testutil/netns"
	"github.com/switchboard/switchboard/internal/view"
)

// natView is a tcp/80 NAT service at 10.99.0.100 over targets 10.1.0.1…n:80.
func natView(t *testing.T, version uint64, n int) *view.View {
	t.Helper()
	tg := model.TargetGroup{Name: "g", Protocol: model.ProtoTCP, Port: 80}
	for i := range n {
		tg.Targets = append(tg.Targets, model.Target{Address: netip.AddrFrom4([4]byte{10, 1, 0, byte(i + 1)}), Zone: "a"})
	}
	s := &model.State{
		Zones:        []model.Zone{{Name: "a"}},
		TargetGroups: []model.TargetGroup{tg},
		LoadBalancers: []model.LoadBalancer{{
			Name:  "edge",
			Nodes: []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("10.99.0.100")}}},
			Listeners: []model.Listener{{Protocol: model.ProtoTCP, Port: 80, DefaultAction: model.Action{
				Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "g"}}},
			}}},
			DataPlane: &model.DataPlane{Backend: model.BackendNft},
		}},
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return view.Build(version, s, state.NewSnapshot(version, nil), time.Now())
}

// slotsPerTarget reads our NAT map back and counts the slots per target.
func slotsPerTarget(t *testing.T, ns *netns.NS) (map[netip.AddrPort]int, int) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(ns.Handle)))
	if err != nil {
		t.Fatal(err)
	}
	sets, err := c.GetSets(&nftables.Table{Name: nft.TableName, Family: nftables.TableFamilyIPv4})
	if err != nil || len(sets) != 1 {
		t.Fatalf("our table holds maps %v (%v), want one", sets, err)
	}
	els, err := c.GetSetElements(sets[0])
	if err != nil {
		t.Fatal(err)
	}
	out := map[netip.AddrPort]int{}
	for _, e := range els {
		a := netip.AddrFrom4([4]byte(e.Val[:4]))
		out[netip.AddrPortFrom(a, binary.BigEndian.Uint16(e.Val[4:6]))]++
	}
	return out, len(els)
}

// TestSmallBatchesLoadEverySlot loads and changes a 65537-slot map in
// messages of 7 elements and transactions of 500 slot changes: every slot
// arrives, and each target holds exactly the slots Maglev gave it.
func TestSmallBatchesLoadEverySlot(t *testing.T) {
	ns := netns.New(t, "batch")
	netns.RequireCommand(t, "nft")
	b, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name, BatchSize: 7, TxnSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for i, n := range []int{5, 6} {
		v := natView(t, uint64(i+1), n)
		if _, err := b.Apply(context.Background(), v); err != nil {
			t.Fatalf("Apply(%d targets): %v", n, err)
		}
		got, total := slotsPerTarget(t, ns)
		if total != model.DefaultTableSize {
			t.Errorf("%d targets: the map holds %d slots, want %d", n, total, model.DefaultTableSize)
		}
		names, weights := make([]string, n), make([]int, n)
		for j := range n {
			names[j], weights[j] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(j + 1)}), 80).String(), 1
		}
		table, err := balance.Maglev(names, weights, model.DefaultTableSize)
		if err != nil {
			t.Fatal(err)
		}
		want := map[netip.AddrPort]int{}
		for _, ti := range table {
			want[netip.MustParseAddrPort(names[ti])]++
		}
		for a, w := range want {
			if got[a] != w {
				t.Errorf("%d targets: %s holds %d slots, want %d", n, a, got[a], w)
			}
		}
	}
}

// TestOversizedTransactionFailsWhole shows the trap the transaction size
// guards against: 65537 slots in one transaction overflow the netlink
// socket buffer. The Apply fails with the reason and leaves no slot
// behind (a transaction is all or nothing); the next Apply with bounded
// transactions loads everything.
func TestOversizedTransactionFailsWhole(t *testing.T) {
	ns := netns.New(t, "big")
	netns.RequireCommand(t, "nft")
	big, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name, TxnSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer big.Close()
	_, err = big.Apply(context.Background(), natView(t, 1, 3))
	if err == nil {
		t.Skip("this kernel took 65537 slots in one transaction: no trap to show here")
	}
	if !strings.Contains(err.Error(), "message too long") {
		t.Errorf("oversized Apply = %v, want message too long", err)
	}
	if _, total := slotsPerTarget(t, ns); total != 0 {
		t.Errorf("the failed transaction left %d slots, want none", total)
	}
	ok, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer ok.Close()
	if _, err := ok.Apply(context.Background(), natView(t, 1, 3)); err != nil {
		t.Fatalf("Apply with bounded transactions: %v", err)
	}
	if _, total := slotsPerTarget(t, ns); total != model.DefaultTableSize {
		t.Errorf("the map holds %d slots, want %d", total, model.DefaultTableSize)
	}
}

func TestNewRefusesBatchesPastTheAttributeLimit(t *testing.T) {
	if _, err := nft.New(nft.Config{BatchSize: 1501}); err == nil {
		t.Error("New(BatchSize: 1501) = nil error, want one: larger messages lose elements silently")
	}
}

func TestAvailableSaysWhy(t *testing.T) {
	ns := netns.New(t, "avail")
	netns.RequireCommand(t, "nft")
	if err := nft.Available("/var/run/netns/" + ns.Name); err != nil {
		t.Errorf("Available(as root, in a fresh namespace) = %v, want nil", err)
	}
	err := nft.Available("/var/run/netns/no-such-namespace")
	if err == nil || !strings.Contains(err.Error(), "network namespace /var/run/netns/no-such-namespace") {
		t.Errorf("Available(missing namespace) = %v, want the reason", err)
	}
}

// TestServicesComeAndGoWithoutTouchingOthers: a second listener adds its
// rules and a full map of its own without rewriting a slot of the first;
// removing it deletes its map; and something foreign added to our table is
// put right by the next Apply.
func TestServicesComeAndGoWithoutTouchingOthers(t *testing.T) {
	ns := netns.New(t, "svc")
	netns.RequireCommand(t, "nft")
	b, err := nft.New(nft.Config{NetNS: "/var/run/netns/" + ns.Name})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	one := natView(t, 1, 3)
	two := natView(t, 2, 3)
	spec := two.State.LoadBalancers[0].Listeners[0]
	spec.Port = 443
	two.State.LoadBalancers[0].Listeners = append(two.State.LoadBalancers[0].Listeners, spec)

	ctx := context.Background()
	maps := func() int {
		c, _ := nftables.New(nftables.WithNetNSFd(int(ns.Handle)))
		sets, err := c.GetSets(&nftables.Table{Name: nft.TableName, Family: nftables.TableFamilyIPv4})
		if err != nil {
			t.Fatal(err)
		}
		return len(sets)
	}
	if _, err := b.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	rep, err := b.Apply(ctx, two)
	if err != nil {
		t.Fatal(err)
	}
	// 3 rules for the new service, and the 3 of the old one rewritten in
	// the same chain flush; slots: the new map only.
	if rep.Updated != 0 || rep.Added != model.DefaultTableSize+6 || rep.Removed != 3 || maps() != 2 {
		t.Errorf("adding a listener: added %d, updated %d, removed %d, maps %d; want %d added (a full map and 6 rules), 3 rules removed, 2 maps",
			rep.Added, rep.Updated, rep.Removed, maps(), model.DefaultTableSize+6)
	}
	if _, err := b.Apply(ctx, one); err != nil {
		t.Fatal(err)
	}
	if n := maps(); n != 1 {
		t.Errorf("after removing the listener our table holds %d maps, want 1", n)
	}
	ns.Exec(t, "nft", "add rule ip switchboard prerouting counter drop")
	rep, err = b.Apply(ctx, one)
	if err != nil {
		t.Fatal(err)
	}
	if out := ns.Exec(t, "nft", "list", "chain", "ip", "switchboard", "prerouting"); strings.Contains(out, "drop") || rep.Added != 3 {
		t.Errorf("a foreign rule in our chain survived the next Apply (added %d rules):\n%s", rep.Added, out)
	}
}
