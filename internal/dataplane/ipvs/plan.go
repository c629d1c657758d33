package ipvs

import (
	"net/netip"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// defaultDelay drains a service this process never saw desired, such as one
// left by an earlier run for a listener since removed.
const defaultDelay = model.DefaultDeregistrationDelay

// kernelService is a virtual service as read from the kernel.
type kernelService struct {
	Key     serviceKey
	Sched   string
	Flags   uint32 // without flagHashed
	Timeout uint32
	Dests   map[netip.AddrPort]dest
}

// opKind is one kind of IPVS change.
type opKind int

const (
	addService opKind = iota
	setService
	delService
	addDest
	setDest
	delDest
)

func (k opKind) String() string {
	return [...]string{"add service", "update service", "delete service", "add real server", "update real server", "delete real server"}[k]
}

// op is one change to the kernel's table. Service ops carry the full desired
// service (for add and set) or only its key; dest ops the service key, the
// real server and its settings.
type op struct {
	Kind opKind
	Svc  serviceKey
	Spec *service // add and set service
	Addr netip.AddrPort
	Dest dest
}

// drainKey names a draining real server, or a whole draining service when
// Addr is the zero value.
type drainKey struct {
	Svc  serviceKey
	Addr netip.AddrPort
}

// plan is the pure diff of the kernel's owned services against the desired
// ones. drains holds the deadlines of what is draining now; delays the
// deregistration delay last known for a service that is no longer desired
// (a service absent from it gets model's default). It returns the
// operations in the order to run them and the drain deadlines that hold once
// they have run.
//
// Only services with owned virtual addresses are changed; the rest of the
// kernel's table is not looked at.
func plan(kernel map[serviceKey]*kernelService, want map[serviceKey]*service, owned func(netip.Addr) bool,
	drains map[drainKey]time.Time, delays map[serviceKey]time.Duration, now time.Time) ([]op, map[drainKey]time.Time) {
	var ops []op
	next := make(map[drainKey]time.Time)

	// drainDest sets a leaving real server to weight 0 first and deletes it
	// once its delay has passed.
	drainDest := func(ops []op, svc serviceKey, addr netip.AddrPort, d dest, delay time.Duration) []op {
		k := drainKey{svc, addr}
		deadline, draining := drains[k]
		if !draining {
			deadline = now.Add(delay)
		}
		if !now.Before(deadline) {
			return append(ops, op{Kind: delDest, Svc: svc, Addr: addr})
		}
		next[k] = deadline
		if d.Weight != 0 {
			ops = append(ops, op{Kind: setDest, Svc: svc, Addr: addr, Dest: dest{Weight: 0, Method: d.Method}})
		}
		return ops
	}

	for _, s := range sortedServices(want) {
		k, ok := kernel[s.Key]
		if !ok {
			ops = append(ops, op{Kind: addService, Svc: s.Key, Spec: s})
			for _, addr := range sortedAddrs(s.Dests) {
				ops = append(ops, op{Kind: addDest, Svc: s.Key, Addr: addr, Dest: s.Dests[addr]})
			}
			continue
		}
		if k.Sched != s.Sched || k.Flags != s.Flags || (s.Flags&flagPersistent != 0 && k.Timeout != s.Timeout) {
			ops = append(ops, op{Kind: setService, Svc: s.Key, Spec: s})
		}
		// Walk both sets unsorted (a large group changes little), then order
		// the few changes by address.
		var dops []op
		for addr, d := range s.Dests {
			have, ok := k.Dests[addr]
			switch {
			case !ok:
				dops = append(dops, op{Kind: addDest, Svc: s.Key, Addr: addr, Dest: d})
			case have != d:
				dops = append(dops, op{Kind: setDest, Svc: s.Key, Addr: addr, Dest: d})
			}
		}
		for addr, d := range k.Dests {
			if _, ok := s.Dests[addr]; !ok {
				dops = drainDest(dops, s.Key, addr, d, s.Delay)
			}
		}
		slices.SortFunc(dops, func(a, b op) int { return a.Addr.Compare(b.Addr) })
		ops = append(ops, dops...)
	}

	// Owned services that are no longer desired drain as a whole: every real
	// server at weight 0, then the service goes with its delay.
	keys := make([]serviceKey, 0, len(kernel))
	for key := range kernel {
		keys = append(keys, key)
	}
	slices.SortFunc(keys, compareKeys)
	for _, key := range keys {
		if _, ok := want[key]; ok || !owned(key.Addr.Addr()) {
			continue
		}
		k := kernel[key]
		dk := drainKey{Svc: key}
		deadline, draining := drains[dk]
		if !draining {
			delay, known := delays[key]
			if !known {
				delay = defaultDelay
			}
			deadline = now.Add(delay)
		}
		if !now.Before(deadline) {
			ops = append(ops, op{Kind: delService, Svc: key})
			continue
		}
		next[dk] = deadline
		for _, addr := range sortedAddrs(k.Dests) {
			if d := k.Dests[addr]; d.Weight != 0 {
				ops = append(ops, op{Kind: setDest, Svc: key, Addr: addr, Dest: dest{Weight: 0, Method: d.Method}})
			}
		}
	}
	return ops, next
}

// earliest returns the first drain deadline, and false when nothing drains.
func earliest(drains map[drainKey]time.Time) (time.Time, bool) {
	var first time.Time
	for _, t := range drains {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first, !first.IsZero()
}

func sortedAddrs(m map[netip.AddrPort]dest) []netip.AddrPort {
	out := make([]netip.AddrPort, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	slices.SortFunc(out, netip.AddrPort.Compare)
	return out
}
