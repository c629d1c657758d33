package ipvs

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/model"
)

// Method is how IPVS forwards a connection to a real server. Its values are
// the kernel's (IP_VS_CONN_F_*), so they go on the wire unchanged.
type Method uint32

// Forwarding methods.
const (
	// NAT rewrites the destination to the real server and the replies back
	// (ipvsadm -m, masquerade); replies must route back through the balancer.
	NAT Method = 0
	// Tunnel encapsulates in IP-in-IP to the real server (ipvsadm -i), which
	// decapsulates and answers the client directly.
	Tunnel Method = 2
	// DirectRouting rewrites only the MAC address (ipvsadm -g, the seed's
	// mode): the real server is on the same L2 segment, owns the VIP without
	// answering ARP for it, and answers the client directly. Ports cannot be
	// mapped.
	DirectRouting Method = 3
)

// String returns the method's configuration name.
func (m Method) String() string {
	switch m {
	case NAT:
		return "nat"
	case Tunnel:
		return "tunnel"
	case DirectRouting:
		return "dr"
	case 1:
		return "local"
	case 4:
		return "bypass"
	}
	return fmt.Sprintf("method(%d)", uint32(m))
}

// ParseMethod reads nat (or masquerade), dr (or direct_routing) and tunnel.
func ParseMethod(s string) (Method, error) {
	switch strings.ToLower(s) {
	case "nat", "masquerade", "masq":
		return NAT, nil
	case "dr", "direct_routing", "direct-routing", "route", "droute":
		return DirectRouting, nil
	case "tunnel", "tun", "ipip":
		return Tunnel, nil
	}
	return 0, fmt.Errorf("dataplane/ipvs: %q is not a forwarding method (nat, dr or tunnel)", s)
}

// Schedulers the backend accepts: the kernel's scheduler modules that Debian's
// kernels ship. rr, wrr, lc and mh are the ones the tests load and check.
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "mh", "sh", "dh", "sed", "nq", "fo", "ovf", "lblc", "lblcr"}

// DefaultScheduler is weighted round robin, for a group without an
// algorithm: it honours target weights, and weight 0 (draining) takes no
// new connections.
const DefaultScheduler = "wrr"

// schedulerFor is the IPVS scheduler closest to a target group's algorithm.
// Each one gives a weight-0 real server no new connections.
func schedulerFor(a model.Algorithm) string {
	switch a {
	case model.LeastOutstandingRequests:
		return "wlc"
	case model.ConsistentHash:
		return "mh"
	}
	return DefaultScheduler
}

// Config configures a Backend. The zero value programs NAT services, each
// with the scheduler of its target group's algorithm, for the load-balancer
// addresses found on this machine's interfaces.
type Config struct {
	// Method is the forwarding method of every real server, unless
	// ModeFromModel takes it from each load balancer. Default NAT.
	Method Method
	// Scheduler is the IPVS scheduler of every service (see Schedulers).
	// Empty picks each service's from its target group's algorithm:
	// round_robin and weighted_random wrr, least_outstanding_requests wlc
	// (weighted least connections), consistent_hash mh (Maglev over the
	// client's address).
	Scheduler string
	// AllNodes programs every node address of every load balancer, not only
	// those assigned to this machine's interfaces. Tests use it to program a
	// VIP they choose; a node that receives a VIP's traffic by other means
	// (BGP, a router's static route) needs it too.
	AllNodes bool
	// ResyncInterval is how often the backend reads the whole table back
	// from the kernel rather than trusting what it last read and wrote (it
	// also reads after any change the kernel refuses). The backend reconciles
	// by itself at this interval, repairing what others changed in its
	// services. Default 10s; negative reads on every Apply.
	ResyncInterval time.Duration
	// Logger receives the outcome of reconciles the backend starts itself
	// (when a drain ends). Default slog.Default().
	Logger *slog.Logger
	// OnReport, when set, is called with the report of every reconcile the
	// backend starts itself, from the backend's goroutine; it must not block
	// (Close waits for that goroutine).
	OnReport func(dataplane.Report)
	// Serves picks the load balancers this backend programs; nil programs
	// every one. serve passes those whose data_plane asks for ipvs.
	Serves func(*model.LoadBalancer) bool
	// ModeFromModel takes each load balancer's forwarding method from its
	// data_plane mode (nat, dsr = direct routing, tunnel) instead of Method.
	ModeFromModel bool

	// now is the clock; tests set it. Default time.Now.
	now func() time.Time
}

// validate refuses a configuration the kernel would refuse later.
func (c *Config) validate() error {
	switch c.Method {
	case NAT, Tunnel, DirectRouting:
	default:
		return fmt.Errorf("dataplane/ipvs: forwarding method %v is not supported (nat, dr or tunnel)", c.Method)
	}
	if c.Scheduler != "" && !slices.Contains(Schedulers, c.Scheduler) {
		return fmt.Errorf("dataplane/ipvs: scheduler %q is not one of %s", c.Scheduler, strings.Join(Schedulers, ", "))
	}
	return nil
}

// DefaultResyncInterval is the default of Config.ResyncInterval.
const DefaultResyncInterval = 10 * time.Second

func (c *Config) resync() time.Duration {
	if c.ResyncInterval == 0 {
		return DefaultResyncInterval
	}
	return c.ResyncInterval
}

func (c *Config) scheduler(tg *model.TargetGroup) string {
	if c.Scheduler == "" {
		return schedulerFor(tg.Algorithm)
	}
	return c.Scheduler
}
