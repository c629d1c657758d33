package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

func TestOwnedVIPs(t *testing.T) {
	addrs := func(ss ...string) []netip.Addr {
		var out []netip.Addr
		for _, s := range ss {
			out = append(out, netip.MustParseAddr(s))
		}
		return out
	}
	st := &model.State{LoadBalancers: []model.LoadBalancer{
		{Name: "a", DataPlane: &model.DataPlane{Backend: model.BackendNft, Interface: "eth0"}, Nodes: []model.Node{
			{Zone: "z1", Addresses: addrs("10.0.0.2", "10.0.0.1", "fd00::1")},
			{Zone: "z2", Addresses: addrs("10.0.1.1")},
		}},
		{Name: "b", DataPlane: &model.DataPlane{Backend: model.BackendIPVS, Interface: "eth1"}, Nodes: []model.Node{
			{Zone: "z1", Addresses: addrs("10.0.0.1", "127.0.0.1", "10.0.2.1")}, // 10.0.0.1 is a's already
		}},
		{Name: "no-interface", DataPlane: &model.DataPlane{Backend: model.BackendNft}, Nodes: []model.Node{{Zone: "z1", Addresses: addrs("10.0.3.1")}}},
		{Name: "userspace", Nodes: []model.Node{{Zone: "z1", Addresses: addrs("10.0.4.1")}}},
	}}
	for _, tt := range []struct {
		zone string
		want string
	}{
		{"z1", "map[eth0:[10.0.0.1 10.0.0.2 fd00::1] eth1:[10.0.2.1]]"},
		{"z2", "map[eth0:[10.0.1.1]]"},
		{"", "map[eth0:[10.0.0.1 10.0.0.2 10.0.1.1 fd00::1] eth1:[10.0.2.1]]"},
		{"z3", "map[]"},
	} {
		if got := fmt.Sprint(OwnedVIPs(st, tt.zone)); got != tt.want {
			t.Errorf("OwnedVIPs(zone %q) = %s, want %s", tt.zone, got, tt.want)
		}
	}
}

// TestVIPOwnersMissingInterface: a balancer naming an interface this host
// lacks does not stop anything; /status's VIP entry says why it is not
// held. (The interface does not exist, so nothing of the host changes.)
func TestVIPOwnersMissingInterface(t *testing.T) {
	v := newVIPOwners(slog.New(slog.DiscardHandler), "")
	st := &model.State{LoadBalancers: []model.LoadBalancer{{Name: "a",
		DataPlane: &model.DataPlane{Backend: model.BackendNft, Interface: "swbnope0"},
		Nodes:     []model.Node{{Zone: "z", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.10")}}}}}}
	ctx, cancel := context.WithCancel(context.Background())
	v.apply(ctx, st)
	want := "swbnope0"
	if runtime.GOOS != "linux" {
		want = "unsupported"
	}
	var got []VIPStatus
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		got = v.Status()
		if len(got) == 1 && strings.Contains(got[0].Error, want) {
			break
		}
	}
	if len(got) != 1 || got[0].Held || got[0].Address != "192.0.2.10" || got[0].Interface != "swbnope0" || !strings.Contains(got[0].Error, want) {
		t.Errorf("Status = %+v, want 192.0.2.10 on swbnope0 not held with an error naming %s", got, want)
	}
	// The balancer goes: its owner stops and the VIP leaves the status.
	v.apply(ctx, &model.State{})
	if got := v.Status(); len(got) != 0 {
		t.Errorf("Status after the balancer went = %+v, want none", got)
	}
	cancel()
	v.stopAll()
}
