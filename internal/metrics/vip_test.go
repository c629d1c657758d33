package metrics

import (
	"sync"
	"testing"
)

// TestVIPCollector: switchboard_vip_held is 1 for a held VIP and 0 for
// one not held, per address and interface, and a VIP no longer owned
// leaves no series.
func TestVIPCollector(t *testing.T) {
	var mu sync.Mutex
	vips := []VIP{{Address: "10.0.0.1", Interface: "eth0", Held: true}, {Address: "10.0.0.2", Interface: "eth1"}}
	m := New(Sources{})
	m.Registry().MustRegister(NewVIPCollector(func() []VIP { mu.Lock(); defer mu.Unlock(); return vips }))
	if got := mustSeries(t, m.Registry(), "switchboard_vip_held", "address", "10.0.0.1", "interface", "eth0"); got != 1 {
		t.Errorf("held VIP = %v, want 1", got)
	}
	if got := mustSeries(t, m.Registry(), "switchboard_vip_held", "address", "10.0.0.2", "interface", "eth1"); got != 0 {
		t.Errorf("VIP not held = %v, want 0", got)
	}
	mu.Lock()
	vips = vips[:1]
	mu.Unlock()
	if _, ok := series(t, m.Registry(), "switchboard_vip_held", "address", "10.0.0.2", "interface", "eth1"); ok {
		t.Error("a VIP no longer owned still has a series")
	}
}
