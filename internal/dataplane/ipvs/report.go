package ipvs

import (
	"net/netip"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
)

// record changes table as a successful op changed the kernel's.
func record(table map[serviceKey]*kernelService, o op) {
	switch o.Kind {
	case addService:
		table[o.Svc] = &kernelService{Key: o.Svc, Sched: o.Spec.Sched, Flags: o.Spec.Flags, Timeout: o.Spec.Timeout, Dests: map[netip.AddrPort]dest{}}
	case setService:
		if s := table[o.Svc]; s != nil {
			s.Sched, s.Flags, s.Timeout = o.Spec.Sched, o.Spec.Flags, o.Spec.Timeout
		}
	case delService:
		delete(table, o.Svc)
	case addDest, setDest:
		if s := table[o.Svc]; s != nil {
			s.Dests[o.Addr] = o.Dest
		}
	case delDest:
		if s := table[o.Svc]; s != nil {
			delete(s.Dests, o.Addr)
		}
	}
}

// report lists what is programmed: the desired services with their real
// servers, and what still drains at weight 0.
func report(want map[serviceKey]*service, kernel map[serviceKey]*kernelService, drains map[drainKey]time.Time) []dataplane.Service {
	var out []dataplane.Service
	for _, s := range sortedServices(want) {
		rs := dataplane.Service{Name: s.Name, VIP: s.Key.Addr.String(), Protocol: protoName(s.Key.Proto)}
		addrs := make([]netip.AddrPort, 0, len(s.Dests))
		for a := range s.Dests {
			addrs = append(addrs, a)
		}
		for k := range drains {
			if k.Svc == s.Key && k.Addr.IsValid() {
				addrs = append(addrs, k.Addr)
			}
		}
		slices.SortFunc(addrs, netip.AddrPort.Compare)
		rs.Targets = make([]dataplane.WeightedTarget, len(addrs))
		for i, a := range addrs {
			rs.Targets[i] = dataplane.WeightedTarget{Addr: a, Weight: s.Dests[a].Weight} // draining: absent, weight 0
		}
		out = append(out, rs)
	}
	var gone []serviceKey
	for k := range drains {
		if !k.Addr.IsValid() {
			gone = append(gone, k.Svc)
		}
	}
	slices.SortFunc(gone, compareKeys)
	for _, svc := range gone {
		k := drainKey{Svc: svc}
		rs := dataplane.Service{Name: "draining", VIP: k.Svc.Addr.String(), Protocol: protoName(k.Svc.Proto)}
		if ks := kernel[k.Svc]; ks != nil {
			for _, a := range sortedAddrs(ks.Dests) {
				rs.Targets = append(rs.Targets, dataplane.WeightedTarget{Addr: a, Weight: 0})
			}
		}
		out = append(out, rs)
	}
	return out
}
