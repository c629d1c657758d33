package model

// DataPlane chooses how a load balancer's L4 listeners forward.
type DataPlane struct {
	// Backend is userspace (the L4 proxy), nft (nftables) or ipvs. Default userspace.
	Backend DataPlaneBackend `yaml:"backend" json:"backend,omitempty"`
	// Mode is how a kernel backend forwards: nat (rewrite the destination;
	// replies return through the balancer) or dsr (direct server return:
	// forward at layer 2 without rewriting, replies go from the target to
	// the client; the targets must own the VIP, see `switchboard
	// target-setup`, and listen on the listener's port). ipvs also has
	// tunnel. Default nat for kernel backends; not set for userspace.
	Mode DataPlaneMode `yaml:"mode" json:"mode,omitempty"`
	// Fallback is what serve does when the kernel backend cannot run here
	// (no root, no kernel support): refuse to start, or serve the balancer
	// with the userspace proxy instead. Either way it says why. Default refuse.
	Fallback DataPlaneFallback `yaml:"fallback" json:"fallback,omitempty"`
	// Interface is the network interface that receives the balancer's
	// traffic, such as eth0. Required for dsr, which forwards out of it.
	// When set, serve owns the balancer's node addresses of its own zone
	// (all nodes' addresses when server.zone is unset) on it as virtual
	// IPs: adds them, announces them and removes them on shutdown.
	Interface string `yaml:"interface" json:"interface,omitempty"`
	// TableSize is the number of slots of the Maglev table that spreads
	// flows over targets (nft), a prime from 251 to 1000003. Default 65537:
	// within about 1% of each target's weight for up to 650 targets.
	TableSize int `yaml:"table_size" json:"table_size,omitempty"`
}

// DataPlaneBackend names a data plane.
type DataPlaneBackend string

// Data plane backends.
const (
	BackendUserspace DataPlaneBackend = "userspace"
	BackendNft       DataPlaneBackend = "nft"
	BackendIPVS      DataPlaneBackend = "ipvs"
)

// Values lists the data plane backends.
func (DataPlaneBackend) Values() []string { return []string{"userspace", "nft", "ipvs"} }

// UnmarshalText accepts one of Values, in any case.
func (b *DataPlaneBackend) UnmarshalText(t []byte) error {
	return unmarshalEnum(b, t, "data plane backend", b.Values())
}

// Kernel reports whether b forwards in the kernel.
func (b DataPlaneBackend) Kernel() bool { return b == BackendNft || b == BackendIPVS }

// DataPlaneMode is how a kernel backend forwards.
type DataPlaneMode string

// Data plane modes.
const (
	ModeNAT    DataPlaneMode = "nat"
	ModeDSR    DataPlaneMode = "dsr"
	ModeTunnel DataPlaneMode = "tunnel" // ipvs only
)

// Values lists the data plane modes.
func (DataPlaneMode) Values() []string { return []string{"nat", "dsr", "tunnel"} }

// UnmarshalText accepts one of Values, in any case.
func (m *DataPlaneMode) UnmarshalText(t []byte) error {
	return unmarshalEnum(m, t, "data plane mode", m.Values())
}

// DataPlaneFallback is what happens when a kernel backend cannot run.
type DataPlaneFallback string

// Data plane fallbacks.
const (
	FallbackRefuse    DataPlaneFallback = "refuse"
	FallbackUserspace DataPlaneFallback = "userspace"
)

// Values lists the data plane fallbacks.
func (DataPlaneFallback) Values() []string { return []string{"refuse", "userspace"} }

// UnmarshalText accepts one of Values, in any case.
func (f *DataPlaneFallback) UnmarshalText(t []byte) error {
	return unmarshalEnum(f, t, "data plane fallback", f.Values())
}

// Limits of DataPlane.TableSize.
const (
	DefaultTableSize = 65537
	MinTableSize     = 251
	MaxTableSize     = 1000003
)

// BackendOf returns the backend lb asks for: userspace when it sets none.
func (lb *LoadBalancer) BackendOf() DataPlaneBackend {
	if lb.DataPlane == nil || lb.DataPlane.Backend == "" {
		return BackendUserspace
	}
	return lb.DataPlane.Backend
}

func (d *DataPlane) setDefaults() {
	if d.Backend == "" {
		d.Backend = BackendUserspace
	}
	if d.Fallback == "" {
		d.Fallback = FallbackRefuse
	}
	if !d.Backend.Kernel() {
		return
	}
	if d.Mode == "" {
		d.Mode = ModeNAT
	}
	if d.TableSize == 0 && d.Backend == BackendNft {
		d.TableSize = DefaultTableSize
	}
}
