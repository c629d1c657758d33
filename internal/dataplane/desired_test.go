package dataplane_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

func ap(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

// testState: balancer edge (nft) with nodes in zones a and b and a tcp/80
// listener forwarding to web, and balancer other on userspace.
func testState(t *testing.T) *model.State {
	t.Helper()
	s := &model.State{
		Zones: []model.Zone{{Name: "a"}, {Name: "b"}},
		TargetGroups: []model.TargetGroup{
			{Name: "web", Protocol: model.ProtoTCP, Port: 80, CrossZone: new(false), Targets: []model.Target{
				{Address: netip.MustParseAddr("10.0.1.1"), Zone: "a"},
				{Address: netip.MustParseAddr("10.0.1.2"), Zone: "a", Weight: new(3)},
				{Address: netip.MustParseAddr("10.0.2.1"), Zone: "b"},
			}},
			{Name: "api", Protocol: model.ProtoTCP, Port: 81, Targets: []model.Target{
				{Address: netip.MustParseAddr("10.0.1.1"), Zone: "a"},
			}},
		},
		LoadBalancers: []model.LoadBalancer{
			{
				Name: "edge",
				Nodes: []model.Node{
					{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.1")}},
					{Zone: "b", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.2")}},
				},
				Listeners: []model.Listener{
					{Protocol: model.ProtoTCP, Port: 80, DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}}}},
				},
				DataPlane: &model.DataPlane{Backend: model.BackendNft},
			},
			{
				Name:      "other",
				Nodes:     []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.9")}}},
				Listeners: []model.Listener{{Protocol: model.ProtoTCP, Port: 80, DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}}}}},
			},
		},
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func nftOnly(lb *model.LoadBalancer) bool { return lb.BackendOf() == model.BackendNft }

func TestPlanRoutesEachVIPAsItsZone(t *testing.T) {
	s := testState(t)
	down := state.Key{Check: state.GroupCheck("web"), Target: ap("10.0.1.1:80")}
	v := view.Build(1, s, state.NewSnapshot(1, map[state.Key]state.Status{down: {Observed: true}}), time.Now())
	svcs, problems := dataplane.Plan(v, nftOnly)
	if len(problems) != 0 {
		t.Errorf("Plan problems = %q, want none", problems)
	}
	got := map[string][]dataplane.Target{}
	for _, s := range svcs {
		got[s.Name] = s.Targets
	}
	// web has cross-zone off: zone a's node routes to a's healthy target
	// with its weight, zone b's to b's.
	want := map[string][]dataplane.Target{
		"edge/tcp:80@192.0.2.1": {{Addr: ap("10.0.1.2:80"), Weight: 3}},
		"edge/tcp:80@192.0.2.2": {{Addr: ap("10.0.2.1:80"), Weight: 1}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateComparable(netip.AddrPort{})); diff != "" {
		t.Errorf("Plan targets mismatch (-want +got):\n%s", diff)
	}
}

func TestPlanReportsWhatAKernelCannotServe(t *testing.T) {
	s := testState(t)
	// An http listener, added after validation (which refuses it) as a
	// view built from another source could carry it.
	s.LoadBalancers[0].Listeners = append(s.LoadBalancers[0].Listeners, model.Listener{Protocol: model.ProtoHTTP, Port: 8080})
	_, problems := dataplane.Plan(view.Build(1, s, state.NewSnapshot(1, nil), time.Now()), nftOnly)
	if len(problems) != 1 || !strings.Contains(problems[0], "cannot serve http") {
		t.Errorf("Plan problems = %q, want one about the http listener", problems)
	}
}

// TestPlanUsesTheListenersAddress: a listener with an address of its own
// is one service at that address, not one per node address, as ipvs
// programs it.
func TestPlanUsesTheListenersAddress(t *testing.T) {
	s := testState(t)
	own := netip.MustParseAddr("192.0.2.50")
	s.LoadBalancers[0].Listeners[0].Address = &own
	svcs, problems := dataplane.Plan(view.Build(1, s, state.NewSnapshot(1, nil), time.Now()), nftOnly)
	if len(problems) != 0 {
		t.Errorf("Plan problems = %q, want none", problems)
	}
	var names []string
	for _, d := range svcs {
		names = append(names, d.Name)
	}
	if want := []string{"edge/tcp:80@192.0.2.50"}; !slices.Equal(names, want) {
		t.Errorf("Plan services = %q, want %q", names, want)
	}
}

func TestChoose(t *testing.T) {
	noRoot := fmt.Errorf("%w: not root", dataplane.ErrUnavailable)
	for _, tt := range []struct {
		name     string
		fallback model.DataPlaneFallback
		avail    error
		wantUse  model.DataPlaneBackend
		wantErr  string
	}{
		{name: "runs", fallback: model.FallbackRefuse, wantUse: model.BackendNft},
		{name: "refuses", fallback: model.FallbackRefuse, avail: noRoot, wantErr: "load balancer edge: data_plane backend nft cannot run here: dataplane: backend unavailable: not root"},
		{name: "falls-back", fallback: model.FallbackUserspace, avail: noRoot, wantUse: model.BackendUserspace},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := testState(t)
			s.LoadBalancers[0].DataPlane.Fallback = tt.fallback
			calls := 0
			choices, err := dataplane.Choose(s, func(b model.DataPlaneBackend) error {
				calls++
				if b != model.BackendNft {
					t.Errorf("probed %s, want only nft", b)
				}
				return tt.avail
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, dataplane.ErrUnavailable) {
					t.Errorf("Choose = %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Choose = %v", err)
			}
			if len(choices) != 2 || choices[0].Use != tt.wantUse || choices[1].Use != model.BackendUserspace {
				t.Errorf("Choose = %+v, want edge on %s and other on userspace", choices, tt.wantUse)
			}
			if (tt.avail != nil) != (choices[0].Reason != "") {
				t.Errorf("Choose reason = %q, want one exactly when falling back", choices[0].Reason)
			}
			if calls != 1 {
				t.Errorf("probed %d times, want once", calls)
			}
		})
	}
}

func TestPlanFollowsFailOpenAndZonalShifts(t *testing.T) {
	s := testState(t)
	s.TargetGroups[0].CrossZone = new(true)
	down := func(addrs ...string) *state.Snapshot {
		m := map[state.Key]state.Status{}
		for _, a := range addrs {
			m[state.Key{Check: state.GroupCheck("web"), Target: ap(a)}] = state.Status{Observed: true}
		}
		return state.NewSnapshot(1, m)
	}
	targets := func(v *view.View) (string, bool) {
		svcs, _ := dataplane.Plan(v, nftOnly)
		var out []string
		for _, t := range svcs[0].Targets {
			out = append(out, t.Addr.String())
		}
		return strings.Join(out, " "), svcs[0].FailingOpen
	}
	// Every target down: fail open to all of them, and say so.
	got, failing := targets(view.Build(1, s, down("10.0.1.1:80", "10.0.1.2:80", "10.0.2.1:80"), time.Now()))
	if got != "10.0.1.1:80 10.0.1.2:80 10.0.2.1:80" || !failing {
		t.Errorf("all down: targets %q, failing open %v; want all three, failing open", got, failing)
	}
	// A zonal shift away from b: b's target gets no traffic from any node.
	s.ZonalShifts = []model.ZonalShift{{TargetGroup: "web", AwayFrom: "b", ExpiresAt: time.Now().Add(time.Hour)}}
	got, failing = targets(view.Build(1, s, down(), time.Now()))
	if got != "10.0.1.1:80 10.0.1.2:80" || failing {
		t.Errorf("shifted away from b: targets %q, failing open %v; want zone a's two", got, failing)
	}
}
