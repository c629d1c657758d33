package metrics

import "github.com/prometheus/client_golang/prometheus"

// VIP is one virtual IP this node owns, for switchboard_vip_held.
type VIP struct {
	Address, Interface string
	Held               bool
}

var vipHeldDesc = prometheus.NewDesc("switchboard_vip_held",
	"1 while this node holds the virtual IP on the interface, 0 while it owns it but does not hold it.",
	[]string{"address", "interface"}, nil)

// VIPCollector exports switchboard_vip_held{address,interface}: 1 while
// this node holds a virtual IP on its interface, 0 while it should but
// does not (no root, no such interface, not the leader). It reads the
// VIPs at scrape time, so a VIP that is no longer owned leaves no series.
type VIPCollector struct {
	// Immutable after NewVIPCollector.
	vips func() []VIP
}

// NewVIPCollector returns a collector reading vips (nil: none) at scrape
// time; register it on Metrics.Registry.
func NewVIPCollector(vips func() []VIP) *VIPCollector { return &VIPCollector{vips: vips} }

// Describe sends the one descriptor.
func (c *VIPCollector) Describe(ch chan<- *prometheus.Desc) { ch <- vipHeldDesc }

// Collect sends one gauge per VIP.
func (c *VIPCollector) Collect(ch chan<- prometheus.Metric) {
	if c.vips == nil {
		return
	}
	for _, v := range c.vips() {
		held := 0.0
		if v.Held {
			held = 1
		}
		ch <- prometheus.MustNewConstMetric(vipHeldDesc, prometheus.GaugeValue, held, v.Address, v.Interface)
	}
}
