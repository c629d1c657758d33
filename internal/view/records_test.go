package view

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// recordState is a zone with a failover pair behind two health checks, a
// weighted group aliased with and without evaluate-target-health, a
// two-level alias tree and an alias to a load balancer.
func recordState() *model.State {
	w := func(n int) *int { return &n }
	s := &model.State{
		Zones: []model.Zone{{Name: "a"}},
		HealthChecks: []model.HealthCheck{
			{Name: "p", Address: "192.0.2.1", Probe: model.Probe{Type: model.CheckTCP, Port: 80}},
			{Name: "s", Address: "192.0.2.2", Probe: model.Probe{Type: model.CheckTCP, Port: 80}},
		},
		TargetGroups: []model.TargetGroup{{Name: "web", Protocol: model.ProtoHTTP, Port: 80,
			Targets: []model.Target{{Address: netip.MustParseAddr("192.0.2.10"), Zone: "a"}}}},
		LoadBalancers: []model.LoadBalancer{{Name: "lb",
			Nodes:     []model.Node{{Zone: "a", Addresses: []netip.Addr{netip.MustParseAddr("192.0.2.100")}}},
			Listeners: []model.Listener{{Protocol: model.ProtoHTTP, Port: 80, DefaultAction: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "web"}}}}}}}},
		HostedZones: []model.HostedZone{{Name: "example.com", Records: []model.RecordSet{
			{Name: "db.example.com", Type: "A", SetIdentifier: "p", Failover: model.Primary, HealthCheck: "p", Values: []string{"192.0.2.1"}},
			{Name: "db.example.com", Type: "A", SetIdentifier: "s", Failover: model.Secondary, HealthCheck: "s", Values: []string{"192.0.2.2"}},
			{Name: "eth.example.com", Type: "A", SetIdentifier: "1", Weight: w(1), Alias: &model.Alias{Record: "db.example.com", EvaluateTargetHealth: true}},
			{Name: "eth.example.com", Type: "A", SetIdentifier: "2", Weight: w(1), HealthCheck: "p", Alias: &model.Alias{Record: "db.example.com", EvaluateTargetHealth: true}},
			{Name: "noeth.example.com", Type: "A", Alias: &model.Alias{Record: "db.example.com"}},
			{Name: "top.example.com", Type: "A", Alias: &model.Alias{Record: "eth.example.com", EvaluateTargetHealth: true}},
			{Name: "lb.example.com", Type: "A", Alias: &model.Alias{LoadBalancer: "lb", EvaluateTargetHealth: true}},
		}}},
	}
	s.SetDefaults()
	if err := s.Validate(); err != nil {
		panic(err)
	}
	return s
}

func TestRecordHealth(t *testing.T) {
	web := state.Key{Check: state.GroupCheck("web"), Target: netip.MustParseAddrPort("192.0.2.10:80")}
	for _, tt := range []struct {
		name string
		down []state.Key
		want map[string][]bool // record group name → each record's health
		any  map[string]bool   // record group name → AnyHealthy
	}{
		{
			name: "all-healthy/no-results-yet-count-healthy",
			want: map[string][]bool{"db": {true, true}, "eth": {true, true}, "noeth": {true}, "top": {true}, "lb": {true}},
		},
		{
			name: "primary-down",
			down: []state.Key{{Check: "p"}},
			want: map[string][]bool{"db": {false, true}, "eth": {true, false}, "noeth": {true}, "top": {true}},
			any:  map[string]bool{"db": true, "eth": true},
		},
		{
			// Both failover records down: the alias with evaluate-target-health
			// backs out, the one without stays; the two-level alias follows.
			name: "both-down/backs-out-through-two-levels",
			down: []state.Key{{Check: "p"}, {Check: "s"}},
			want: map[string][]bool{"db": {false, false}, "eth": {false, false}, "noeth": {true}, "top": {false}},
			any:  map[string]bool{"db": false, "eth": false, "top": false},
		},
		{
			name: "load-balancer-without-healthy-targets",
			down: []state.Key{web},
			want: map[string][]bool{"lb": {false}},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := map[state.Key]state.Status{}
			for _, k := range tt.down {
				m[k] = state.Status{Healthy: false, Observed: true, Reason: "connect refused"}
			}
			v := Build(1, recordState(), state.NewSnapshot(1, m), time.Unix(0, 0))
			for name, want := range tt.want {
				g := v.Records[RecordKey{Zone: "example.com.", Name: name + ".example.com.", Type: "A"}]
				if g == nil {
					t.Fatalf("no record group %s", name)
				}
				var got []bool
				for _, r := range g.Records {
					got = append(got, r.Healthy)
					if !r.Healthy && r.Reason == "" {
						t.Errorf("%s: an unhealthy record without a reason", name)
					}
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Build(...) record group %s health mismatch (-want +got):\n%s", name, diff)
				}
				if a, ok := tt.any[name]; ok && g.AnyHealthy != a {
					t.Errorf("Build(...) record group %s AnyHealthy = %v, want %v", name, g.AnyHealthy, a)
				}
			}
		})
	}
}

func TestRecordGroupFailingOpen(t *testing.T) {
	for _, tt := range []struct {
		name string
		g    RecordGroup
		want bool
	}{
		{"empty", RecordGroup{}, false},
		{"one healthy", RecordGroup{Records: []Record{{Healthy: true}, {}}, AnyHealthy: true}, false},
		{"none healthy", RecordGroup{Records: []Record{{}, {}}}, true},
	} {
		if got := tt.g.FailingOpen(); got != tt.want {
			t.Errorf("%s: FailingOpen() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestTargetStatus(t *testing.T) {
	addr := netip.MustParseAddrPort("10.0.0.1:80")
	key := state.Key{Check: state.GroupCheck("web"), Target: addr}
	checked := &TargetGroup{Spec: &model.TargetGroup{Name: "web", HealthCheck: &model.Probe{}}}
	unchecked := &TargetGroup{Spec: &model.TargetGroup{Name: "web"}}
	for _, tt := range []struct {
		name   string
		g      *TargetGroup
		health map[state.Key]state.Status
		t      Target
		want   string
	}{
		{"checked/no result", checked, nil, Target{Addr: addr, Healthy: true}, "unknown"},
		{"checked/not observed", checked, map[state.Key]state.Status{key: {Healthy: true}}, Target{Addr: addr, Healthy: true}, "unknown"},
		{"checked/ejected before any probe", checked, map[state.Key]state.Status{key: {Ejected: true}}, Target{Addr: addr}, "unhealthy"},
		{"checked/observed healthy", checked, map[state.Key]state.Status{key: {Observed: true, Healthy: true}}, Target{Addr: addr, Healthy: true}, "healthy"},
		{"checked/view says unhealthy", checked, map[state.Key]state.Status{key: {Observed: true, Healthy: true}}, Target{Addr: addr}, "unhealthy"},
		{"unchecked/healthy", unchecked, nil, Target{Addr: addr, Healthy: true}, "healthy"},
	} {
		v := &View{Health: state.NewSnapshot(1, tt.health)}
		if got := v.TargetStatus(tt.g, tt.t); got != tt.want {
			t.Errorf("%s: TargetStatus = %q, want %q", tt.name, got, tt.want)
		}
	}
}
