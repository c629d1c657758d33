package metrics

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// bigView is a view of groups target groups of perZone targets in each of
// three zones, every target probed, one in ten unhealthy.
func bigView(groups, perZone int) *view.View {
	s := &model.State{Zones: []model.Zone{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	statuses := map[state.Key]state.Status{}
	for g := range groups {
		tg := model.TargetGroup{Name: fmt.Sprintf("tg%d", g), Protocol: model.Protocol("http"), Port: 80, HealthCheck: &model.Probe{}}
		for z, zone := range []string{"a", "b", "c"} {
			for i := range perZone {
				addr := netip.AddrFrom4([4]byte{10, byte(g), byte(z), byte(i)})
				tg.Targets = append(tg.Targets, model.Target{Address: addr, Zone: zone})
				k := state.Key{Check: state.GroupCheck(tg.Name), Target: netip.AddrPortFrom(addr, 80)}
				statuses[k] = state.Status{Observed: true, Healthy: i%10 != 0}
			}
		}
		s.TargetGroups = append(s.TargetGroups, tg)
	}
	s.SetDefaults()
	return view.Build(1, s, state.NewSnapshot(1, statuses), time.Now())
}

// BenchmarkScrapeView measures one scrape of the view's series for 100
// target groups × 3 zones × 33 targets (9,900 targets): what a Prometheus
// scrape costs the process, without the text encoding.
func BenchmarkScrapeView(b *testing.B) {
	pub := view.NewPublisher()
	pub.Publish(bigView(100, 33))
	m := New(Sources{Views: pub})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}
