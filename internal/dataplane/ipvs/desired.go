package ipvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// IP protocol numbers as IPVS keys services by them.
const (
	protoTCP = 6
	protoUDP = 17
)

// Service flags (IP_VS_SVC_F_*).
const (
	flagPersistent = 0x1
	flagHashed     = 0x2 // set by the kernel on every service it holds
)

// defaultPersistence is how long source_ip stickiness keeps a client on its
// real server when the group gives no duration (ipvsadm -p's default).
const defaultPersistence = 300 * time.Second

// serviceKey identifies a virtual service: protocol and VIP:port.
type serviceKey struct {
	Proto uint16
	Addr  netip.AddrPort
}

func (k serviceKey) String() string {
	return protoName(k.Proto) + "/" + k.Addr.String()
}

func protoName(p uint16) string {
	switch p {
	case protoTCP:
		return "tcp"
	case protoUDP:
		return "udp"
	}
	return fmt.Sprintf("proto%d", p)
}

// service is a desired virtual service.
type service struct {
	Key serviceKey
	// Name is "load-balancer/listener" for the report, such as "web/tcp:443".
	Name string
	// Group is the target group forwarded to, and Delay its deregistration delay.
	Group string
	Delay time.Duration
	// Sched is the scheduler, Flags the service flags (without flagHashed)
	// and Timeout the persistence timeout in seconds (0 unless persistent).
	Sched   string
	Flags   uint32
	Timeout uint32
	// Dests are the real servers by address.
	Dests map[netip.AddrPort]dest
}

// dest is a real server as desired or as read from the kernel.
type dest struct {
	Weight int
	Method Method
}

// desired translates a view into the virtual services this node should hold,
// and the problems that keep part of it from being programmed.
//
// For every load balancer, every tcp or udp listener, and every node address
// that isLocal accepts (every address when isLocal is nil), it makes one
// service forwarding to the listener's target group's routable targets as
// seen from the node's zone. A listener with an address of its own uses that
// address instead of the nodes'. The result is the same for the same input.
func desired(v *view.View, cfg Config, isLocal func(netip.Addr) bool) (map[serviceKey]*service, []string) {
	out := make(map[serviceKey]*service)
	var problems []string
	problem := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if v == nil {
		return out, nil
	}
	names := make([]string, 0, len(v.LoadBalancers))
	for name := range v.LoadBalancers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, lbName := range names {
		lb := v.LoadBalancers[lbName]
		if lb == nil || lb.Spec == nil || (cfg.Serves != nil && !cfg.Serves(lb.Spec)) {
			continue
		}
		cfg := cfg
		if dp := lb.Spec.DataPlane; dp != nil && cfg.ModeFromModel {
			switch dp.Mode {
			case model.ModeDSR:
				cfg.Method = DirectRouting
			case model.ModeTunnel:
				cfg.Method = Tunnel
			case model.ModeNAT:
				cfg.Method = NAT
			}
		}
		for li := range lb.Spec.Listeners {
			l := &lb.Spec.Listeners[li]
			var proto uint16
			switch l.Protocol {
			case model.ProtoTCP, model.ProtoTLSPassthrough:
				proto = protoTCP // passthrough is TCP to the kernel, as in dataplane.Plan
			case model.ProtoUDP:
				proto = protoUDP
			default:
				// Nobody serves it: the userspace proxies stand down for a
				// balancer forwarded in the kernel.
				problem("load balancer %s: listener %s:%d: a kernel data plane cannot serve %s", lbName, l.Protocol, l.Port, l.Protocol)
				continue
			}
			name := fmt.Sprintf("%s/%s:%d", lbName, l.Protocol, l.Port)
			fwd := l.DefaultAction.Forward
			if fwd == nil || len(fwd.TargetGroups) != 1 {
				problem("load balancer %s: listener %s:%d: forwards to no single target group", lbName, l.Protocol, l.Port)
				continue
			}
			tgName := fwd.TargetGroups[0].Name
			tg := v.TargetGroups[tgName]
			if tg == nil || tg.Spec == nil {
				problem("load balancer %s: listener %s:%d: target group %q is not in the view", lbName, l.Protocol, l.Port, tgName)
				continue
			}
			for _, node := range lb.Spec.Nodes {
				addrs := node.Addresses
				if l.Address != nil {
					addrs = []netip.Addr{*l.Address}
				}
				for _, a := range addrs {
					a = a.Unmap()
					if isLocal != nil && !isLocal(a) {
						continue
					}
					key := serviceKey{Proto: proto, Addr: netip.AddrPortFrom(a, uint16(l.Port))}
					if prev := out[key]; prev != nil {
						if prev.Name != name || prev.Group != tgName {
							problem("load balancer %s: listener %s:%d: %s is already the service of %s", lbName, l.Protocol, l.Port, key, prev.Name)
						}
						continue
					}
					out[key] = newService(key, name, tg, node.Zone, cfg, problem)
				}
				if l.Address != nil {
					break // one service, whatever the number of nodes
				}
			}
		}
	}
	return out, problems
}

// newService builds the service for key forwarding to tg as a node in zone
// sees it.
func newService(key serviceKey, name string, tg *view.TargetGroup, zone string, cfg Config, problem func(string, ...any)) *service {
	s := &service{
		Key:   key,
		Name:  name,
		Group: tg.Spec.Name,
		Delay: defaultDelay,
		Sched: cfg.scheduler(tg.Spec),
		Dests: make(map[netip.AddrPort]dest),
	}
	if d := tg.Spec.DeregistrationDelay; d != nil {
		s.Delay = d.D()
	}
	if st := tg.Spec.Stickiness; st != nil && st.Type == model.StickySourceIP {
		s.Flags |= flagPersistent
		p := defaultPersistence
		if st.Duration > 0 {
			p = st.Duration.D()
		}
		s.Timeout = uint32(p / time.Second)
	}
	routable, _ := tg.RoutableFrom(zone)
	if len(routable) == 0 {
		problem("%s: target group %s has no routable targets from zone %q", name, tg.Spec.Name, zone)
	}
	for _, t := range routable {
		addr := netip.AddrPortFrom(t.Addr.Addr().Unmap(), t.Addr.Port())
		if addr.Addr().Is4() != key.Addr.Addr().Is4() && cfg.Method != Tunnel {
			problem("%s: target %s: a %s real server needs tunnel forwarding for a %s virtual address", name, addr, family(addr.Addr()), family(key.Addr.Addr()))
			continue
		}
		if cfg.Method != NAT && addr.Port() != key.Addr.Port() {
			problem("%s: target %s: %s forwarding cannot change the port; the target receives port %d", name, addr, cfg.Method, key.Addr.Port())
		}
		w := max(t.Weight, 0)
		s.Dests[addr] = dest{Weight: w, Method: cfg.Method}
	}
	return s
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// sortedServices returns the services ordered by key, for stable reports and
// operation order.
func sortedServices(m map[serviceKey]*service) []*service {
	out := make([]*service, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *service) int { return compareKeys(a.Key, b.Key) })
	return out
}

func compareKeys(a, b serviceKey) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return cmp.Compare(a.Proto, b.Proto)
}

// viewAddrs returns every address the view's load balancers are configured
// with: their nodes' addresses and their listeners' own addresses. A service
// on one of them belongs to the backend even when this node does not hold it.
func viewAddrs(v *view.View) map[netip.Addr]bool {
	out := make(map[netip.Addr]bool)
	if v == nil {
		return out
	}
	for _, lb := range v.LoadBalancers {
		if lb == nil || lb.Spec == nil {
			continue
		}
		for _, n := range lb.Spec.Nodes {
			for _, a := range n.Addresses {
				out[a.Unmap()] = true
			}
		}
		for _, l := range lb.Spec.Listeners {
			if l.Address != nil {
				out[l.Address.Unmap()] = true
			}
		}
	}
	return out
}
