package demo

import (
	"fmt"
	"strings"
)

// Ports are the demo's listening addresses.
type Ports struct {
	// Admin is the admin listener (dashboard, metrics, API), host:port.
	Admin string
	// DNS is the DNS server, host:port, UDP and TCP.
	DNS string
	// HTTP and TCP are the load balancer's listener ports on every address.
	HTTP, TCP int
}

// NodeAddr is the load balancer node address of zone z: 127.0.0.11 for a,
// .12 for b, .13 for c. They are loopback addresses, so the demo needs no
// privileges.
func NodeAddr(zone string) string {
	for i, z := range Zones {
		if z == zone {
			return fmt.Sprintf("127.0.0.%d", 11+i)
		}
	}
	return ""
}

// Region is the region of zone z: the demo puts each zone in its own
// region so latency routing has somewhere to steer.
func Region(zone string) string {
	return map[string]string{"a": "east", "b": "central", "c": "west"}[zone]
}

// Config is the demo's configuration file for backends bs and ports p.
func Config(bs *Backends, p Ports) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w(`# Written by "switchboard demo". Every part of switchboard in front of three
# zones of demo backends on loopback. Edit it while the demo runs: it is
# re-read within a second, and an invalid edit is refused with the reason.
server:
  admin:
    listen: %s
  dns:
    listen: [%s]
  shutdown_timeout: 5s

regions:
  - { name: east, latitude: 40.7, longitude: -74.0 }
  - { name: central, latitude: 41.9, longitude: -87.6 }
  - { name: west, latitude: 37.8, longitude: -122.4 }

zones:
  - { name: a, region: east }
  - { name: b, region: central }
  - { name: c, region: west }

# Loopback clients are closest to central, then east, then west.
latency_table:
  - { cidr: 127.0.0.0/8, latency: { central: 5ms, east: 20ms, west: 60ms } }
  - { cidr: "::/0", latency: { central: 5ms, east: 20ms, west: 60ms } }

health_checks:`, p.Admin, p.DNS)
	for i, be := range bs.All() {
		w("  - { name: backend-%d, type: http, address: %s, port: %d, path: /healthz, interval: 1s, healthy_threshold: 2, unhealthy_threshold: 2 }",
			i+1, be.Addr.Addr(), be.Addr.Port())
	}
	for _, z := range Zones {
		var kids []string
		for i, be := range bs.All() {
			if be.Zone == z {
				kids = append(kids, fmt.Sprintf("backend-%d", i+1))
			}
		}
		w("  # zone %s is healthy while one of its backends is", z)
		w("  - { name: zone-%s, type: calculated, children: [%s], health_threshold: 1 }", z, strings.Join(kids, ", "))
	}
	w(`
hosted_zones:
  - name: demo.test
    records:
      # the load balancer's name: the nodes of zones whose targets are healthy
      - { name: www.demo.test, type: A, alias: { load_balancer: web, evaluate_target_health: true } }
      # failover: zone b while healthy, else zone c
      - { name: api.demo.test, type: A, set_identifier: primary-b, failover: PRIMARY, health_check: zone-b, ttl: 5s, values: [%s] }
      - { name: api.demo.test, type: A, set_identifier: secondary-c, failover: SECONDARY, health_check: zone-c, ttl: 5s, values: [%s] }`,
		NodeAddr("b"), NodeAddr("c"))
	w("      # weighted: 1:2:1 over the zones, healthy zones only")
	for _, z := range Zones {
		weight := 1
		if z == "b" {
			weight = 2
		}
		w("      - { name: weighted.demo.test, type: A, set_identifier: zone-%s, weight: %d, health_check: zone-%s, ttl: 5s, values: [%s] }",
			z, weight, z, NodeAddr(z))
	}
	w("      # latency: the closest healthy region (central for loopback clients)")
	for _, z := range Zones {
		w("      - { name: latency.demo.test, type: A, set_identifier: %s, region: %s, health_check: zone-%s, ttl: 5s, values: [%s] }",
			Region(z), Region(z), z, NodeAddr(z))
	}
	w(`
target_groups:`)
	for _, tg := range []struct{ name, proto string }{{"web", "http"}, {"web-tcp", "tcp"}} {
		w("  - name: %s", tg.name)
		w("    protocol: %s", tg.proto)
		w("    cross_zone: false")
		w("    deregistration_delay: 5s")
		if tg.proto == "http" {
			w("    health_check: { path: /healthz, interval: 1s, healthy_threshold: 2, unhealthy_threshold: 2 }")
		} else {
			w("    health_check: { interval: 1s, healthy_threshold: 2, unhealthy_threshold: 2 }")
		}
		w("    targets:")
		for _, be := range bs.All() {
			w("      - { address: %s, port: %d, zone: %s }", be.Addr.Addr(), be.Addr.Port(), be.Zone)
		}
	}
	w(`
load_balancers:
  - name: web
    dns_name: lb.demo.test
    nodes:`)
	for _, z := range Zones {
		w("      - { zone: %s, addresses: [%s] }", z, NodeAddr(z))
	}
	w(`    listeners:
      - protocol: http
        port: %d
        default_action: { forward: { target_groups: [{ name: web }] } }
      - protocol: tcp
        port: %d
        default_action: { forward: { target_groups: [{ name: web-tcp }] } }`, p.HTTP, p.TCP)
	return b.String()
}
