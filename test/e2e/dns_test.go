package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var dnsAddr = regexp.MustCompile(`msg="dns listener" addr=(\S+) net=udp`)

// TestDNSFailover runs serve with DNS on: a failover record answers the
// primary while its health check passes, the secondary once the primary's
// backend fails, and the primary again when it recovers: the DNS half of the
// product, end to end through a real client.
func TestDNSFailover(t *testing.T) {
	failing, host, port := flippingBackend(t)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "switchboard.yaml")
	writeFile(t, cfg, fmt.Sprintf(`server:
  admin: { listen: "127.0.0.1:0" }
  dns: { listen: ["127.0.0.1:0"] }
health_checks:
  - { name: primary, type: http, address: %s, port: %s, interval: 100ms, unhealthy_threshold: 2, healthy_threshold: 2 }
hosted_zones:
  - name: example.test
    records:
      - { name: api.example.test, type: A, set_identifier: p, failover: PRIMARY, health_check: primary, ttl: 5s, values: [192.0.2.1] }
      - { name: api.example.test, type: A, set_identifier: s, failover: SECONDARY, ttl: 5s, values: [192.0.2.2] }
`, host, port))
	p := start(t, cfg, filepath.Join(dir, "data"))
	var server string
	poll(t, "the DNS listener in the log", func() bool {
		m := dnsAddr.FindStringSubmatch(p.logText())
		if m != nil {
			server = m[1]
		}
		return m != nil
	})
	c := &dns.Client{Timeout: 2 * time.Second}
	answer := func() string {
		q := new(dns.Msg)
		q.SetQuestion("api.example.test.", dns.TypeA)
		r, _, err := c.Exchange(q, server)
		if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !r.Authoritative {
			return fmt.Sprintf("bad answer %v %v", r, err)
		}
		return r.Answer[0].(*dns.A).A.String()
	}
	poll(t, "the primary answered", func() bool { return answer() == "192.0.2.1" })
	failing.Store(true)
	poll(t, "the secondary answered after the primary failed", func() bool { return answer() == "192.0.2.2" })
	failing.Store(false)
	poll(t, "the primary answered again", func() bool { return answer() == "192.0.2.1" })

	q := new(dns.Msg)
	q.SetQuestion("example.org.", dns.TypeA)
	if r, _, err := c.Exchange(q, server); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("a name outside our zones = %v, %v; want REFUSED", r, err)
	}
}
