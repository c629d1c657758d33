package model

import (
	"math/big"
	"strings"
)

// dataPlane checks lb's data_plane: values, and what the kernel backends
// cannot do (L7 listeners; port mapping in dsr mode).
func (v *validator) dataPlane(p Path, lb *LoadBalancer) {
	d := lb.DataPlane
	if d == nil {
		return
	}
	dp := p.Field("data_plane")
	if !enumOK(d.Backend, DataPlaneBackend("").Values()) {
		v.add(dp.Field("backend"), join(DataPlaneBackend("").Values()), "%q is not a data plane backend", d.Backend)
		return
	}
	if !enumOK(d.Fallback, DataPlaneFallback("").Values()) {
		v.add(dp.Field("fallback"), join(DataPlaneFallback("").Values()), "%q is not a fallback", d.Fallback)
	}
	if !d.Backend.Kernel() {
		for _, f := range []struct {
			name string
			set  bool
		}{{"mode", d.Mode != ""}, {"interface", d.Interface != ""}, {"table_size", d.TableSize != 0}} {
			if f.set {
				v.add(dp.Field(f.name), "only with backend nft or ipvs", "the %s backend has no %s", d.Backend, f.name)
			}
		}
		return
	}
	modes := []string{"nat", "dsr"}
	if d.Backend == BackendIPVS {
		modes = append(modes, "tunnel")
	}
	if !enumOK(d.Mode, modes) {
		v.add(dp.Field("mode"), join(modes), "%q is not a mode of the %s backend", d.Mode, d.Backend)
	}
	if d.Interface != "" && !interfaceName(d.Interface) {
		v.add(dp.Field("interface"), "a network interface name of 1–15 characters, such as eth0", "%q is not an interface name", d.Interface)
	}
	if d.Mode == ModeDSR && d.Interface == "" {
		v.add(dp.Field("interface"), "the interface that receives the balancer's traffic", "dsr mode forwards out of an interface: name it")
	}
	switch {
	case d.Backend == BackendIPVS && d.TableSize != 0:
		v.add(dp.Field("table_size"), "only with backend nft", "ipvs's Maglev table size is fixed when the kernel is built")
	case d.Backend == BackendNft:
		if v.intRange(dp.Field("table_size"), d.TableSize, MinTableSize, MaxTableSize) && !big.NewInt(int64(d.TableSize)).ProbablyPrime(0) {
			v.add(dp.Field("table_size"), "a prime, such as 65537", "%d is not a prime", d.TableSize)
		}
	}
	for j := range lb.Listeners {
		l := &lb.Listeners[j]
		lp := p.Field("listeners").Index(j, "")
		switch l.Protocol {
		case ProtoTCP, ProtoUDP, ProtoTLSPassthrough:
		default:
			v.add(lp.Field("protocol"), "tcp, udp or tls_passthrough with a kernel data plane", "the %s data plane forwards packets and cannot serve %s listener", d.Backend, article(l.Protocol))
			continue
		}
		if d.Mode != ModeDSR || l.DefaultAction.Forward == nil {
			continue
		}
		// Direct server return leaves the packet as the client sent it, so
		// a target must listen on the listener's own port.
		for _, w := range l.DefaultAction.Forward.TargetGroups {
			tg := v.groups[w.Name]
			if tg == nil {
				continue
			}
			for _, t := range tg.Targets {
				if t.Port != l.Port {
					v.add(lp.Field("port"), "targets on the listener's port in dsr mode", "dsr cannot change ports: target group %s has target %s on port %d", tg.Name, t.Address, t.Port)
					break
				}
			}
		}
	}
}

// interfaceName reports whether s can name a Linux network interface.
func interfaceName(s string) bool {
	return len(s) >= 1 && len(s) <= 15 && s != "." && s != ".." && !strings.ContainsAny(s, "/: \t\n")
}
