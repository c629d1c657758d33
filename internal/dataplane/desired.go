package dataplane

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// Desired is one virtual service a kernel backend should program: traffic
// to VIP:Port over Protocol spread over Targets by weight.
type Desired struct {
	// Name is "load-balancer/protocol:port@vip", such as "web/tcp:443@192.0.2.10".
	Name string
	// LoadBalancer is the balancer's name; Setting its data_plane (with defaults).
	LoadBalancer string
	Setting      model.DataPlane
	VIP          netip.Addr
	Port         uint16
	// Protocol is "tcp" or "udp".
	Protocol string
	// Targets are the routable targets, in address order, each once, with
	// weights > 0. Empty when nothing is routable.
	Targets []Target
	// FailingOpen is true when Targets holds unhealthy targets because the
	// group fell below its routing-failover threshold.
	FailingOpen bool
}

// Target is a target of a Desired service.
type Target struct {
	Addr   netip.AddrPort
	Weight int
}

// Plan lists the services of the load balancers that serves picks, as v
// routes them: one per node address (VIP) and L4 listener, or one at the
// listener's own address when it has one.
// Each VIP routes as a node of its zone does (view.TargetGroup.RoutableFrom),
// so that a balancer with nodes in several zones programs each node's VIPs
// with its own zone's decision. Problems are what cannot be programmed.
//
// A listener forwarding to several target groups spreads traffic over the
// groups by their weights and within each group by target weight; a target
// in two groups gets the sum.
func Plan(v *view.View, serves func(*model.LoadBalancer) bool) (svcs []Desired, problems []string) {
	names := make([]string, 0, len(v.LoadBalancers))
	for n, lb := range v.LoadBalancers {
		if serves(lb.Spec) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		lb := v.LoadBalancers[n]
		var setting model.DataPlane
		if lb.Spec.DataPlane != nil {
			setting = *lb.Spec.DataPlane
		}
		for _, l := range lb.Spec.Listeners {
			proto := ""
			switch l.Protocol {
			case model.ProtoTCP, model.ProtoTLSPassthrough:
				proto = "tcp"
			case model.ProtoUDP:
				proto = "udp"
			default:
				problems = append(problems, fmt.Sprintf("load balancer %s: listener %s/%d: a kernel data plane cannot serve %s", n, l.Protocol, l.Port, l.Protocol))
				continue
			}
			if l.DefaultAction.Forward == nil {
				problems = append(problems, fmt.Sprintf("load balancer %s: listener %s/%d: no forward action", n, proto, l.Port))
				continue
			}
			for _, node := range lb.Nodes {
				targets, failing := routable(v, l.DefaultAction.Forward, node.Zone)
				vips := node.Addresses
				if l.Address != nil {
					vips = []netip.Addr{*l.Address}
				}
				for _, vip := range vips {
					svcs = append(svcs, Desired{
						Name:         n + "/" + proto + ":" + strconv.Itoa(l.Port) + "@" + vip.String(),
						LoadBalancer: n,
						Setting:      setting,
						VIP:          vip,
						Port:         uint16(l.Port),
						Protocol:     proto,
						Targets:      targets,
						FailingOpen:  failing,
					})
				}
				if l.Address != nil {
					break // one service, routed as the first node's zone
				}
			}
		}
	}
	return svcs, problems
}

// groupScale is the weight a forward gives all of a group's targets
// together, times the group's weight, so that groups share by their
// weights whatever their targets' weights add up to.
const groupScale = 1000

// routable merges the routable targets of f's groups as seen from zone.
func routable(v *view.View, f *model.Forward, zone string) ([]Target, bool) {
	if len(f.TargetGroups) == 1 {
		return routableOne(v, f.TargetGroups[0].Name, zone)
	}
	weights := map[netip.AddrPort]int{}
	failing := false
	for _, w := range f.TargetGroups {
		g := v.TargetGroups[w.Name]
		if g == nil {
			continue
		}
		ts, fo := g.RoutableFrom(zone)
		failing = failing || fo
		total := 0
		for _, t := range ts {
			total += t.Weight
		}
		gw := 1
		if w.Weight != nil {
			gw = *w.Weight
		}
		for _, t := range ts {
			if t.Weight <= 0 || gw <= 0 {
				continue
			}
			weights[t.Addr] += max(1, t.Weight*gw*groupScale/total)
		}
	}
	out := make([]Target, 0, len(weights))
	for a, w := range weights {
		out = append(out, Target{Addr: a, Weight: w})
	}
	slices.SortFunc(out, func(a, b Target) int { return a.Addr.Compare(b.Addr) })
	return out, failing
}

// routableOne is routable for a forward to one group: its routable
// targets with their own weights (a group's addresses are unique).
func routableOne(v *view.View, group, zone string) ([]Target, bool) {
	g := v.TargetGroups[group]
	if g == nil {
		return []Target{}, false
	}
	ts, failing := g.RoutableFrom(zone)
	out := make([]Target, 0, len(ts))
	for _, t := range ts {
		if t.Weight > 0 {
			out = append(out, Target{Addr: t.Addr, Weight: t.Weight})
		}
	}
	slices.SortFunc(out, func(a, b Target) int { return a.Addr.Compare(b.Addr) })
	return out, failing
}

// ErrUnavailable marks an error that says why a backend cannot run here.
var ErrUnavailable = errors.New("dataplane: backend unavailable")

// Choice is the backend a load balancer runs on, and why when it is not the
// one it asked for.
type Choice struct {
	LoadBalancer string
	// Asked is the configured backend; Use the one that will run.
	Asked, Use model.DataPlaneBackend
	// Reason says why Use differs from Asked; empty when it does not.
	Reason string
}

// Choose decides the backend of every load balancer of s. unavailable
// returns why a kernel backend cannot run here, or nil when it can. A
// balancer whose backend cannot run falls back to userspace when its
// data_plane says so; otherwise Choose fails with every reason, so that
// serve refuses to start rather than silently forward nothing.
func Choose(s *model.State, unavailable func(model.DataPlaneBackend) error) ([]Choice, error) {
	var out []Choice
	var errs []error
	cache := map[model.DataPlaneBackend]error{}
	for i := range s.LoadBalancers {
		lb := &s.LoadBalancers[i]
		b := lb.BackendOf()
		c := Choice{LoadBalancer: lb.Name, Asked: b, Use: b}
		if b.Kernel() {
			err, seen := cache[b]
			if !seen {
				err = unavailable(b)
				cache[b] = err
			}
			if err != nil {
				if lb.DataPlane.Fallback != model.FallbackUserspace {
					errs = append(errs, fmt.Errorf("load balancer %s: data_plane backend %s cannot run here: %w (set data_plane.fallback: userspace to serve it from the userspace proxy instead)", lb.Name, b, err))
					continue
				}
				c.Use, c.Reason = model.BackendUserspace, fmt.Sprintf("backend %s cannot run here: %v; falling back to userspace as data_plane.fallback says", b, err)
			}
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}
