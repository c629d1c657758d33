package vip

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Config configures an Owner.
type Config struct {
	// Interface carries the VIPs, such as eth0. Required.
	Interface string
	// VIPs are the addresses to own at first, IPv4 or IPv6; Set changes
	// them.
	VIPs []netip.Addr
	// Elector says when this node owns each VIP; default Single.
	Elector Elector
	// Announcements is how many gratuitous ARPs (IPv4) or unsolicited
	// neighbour advertisements (IPv6) to send after taking a VIP, so that
	// switches and neighbours' caches follow even if one is lost. Default 5.
	Announcements int
	// Interval is the time between announcements. Default 1s.
	Interval time.Duration
	// NetNS is the path of the network namespace to work in; empty means
	// the process's own.
	NetNS string
	// Logger receives takeovers and withdrawals; default discards.
	Logger *slog.Logger
}

// State is what an Owner knows about one VIP.
type State struct {
	VIP       netip.Addr `json:"vip"`
	Interface string     `json:"interface"`
	// Held is true while the VIP is on the interface.
	Held bool `json:"held"`
	// Since is when Held last changed.
	Since time.Time `json:"since,omitzero"`
	// Announced counts the announcements sent since the VIP was taken.
	Announced int `json:"announced"`
	// LastAnnounced is when the last announcement went out.
	LastAnnounced time.Time `json:"last_announced,omitzero"`
	// Error is the last error, empty when none.
	Error string `json:"error,omitempty"`

	added   bool // the Owner put the address there (so it may remove it)
	removed bool // Set dropped it; it goes once withdrawn
}

// Owner holds VIPs on an interface while the elector says so, announces
// them, and withdraws them when it stops.
type Owner struct {
	// Immutable after New.
	cfg Config
	log *slog.Logger

	mu    sync.Mutex // guards the fields below
	state map[netip.Addr]*State
	// start, set while Run runs, starts a VIP's cycle (Set calls it).
	start func(netip.Addr)
	// cycles are the running VIP cycles.
	cycles map[netip.Addr]*cycle
}

// cycle is one VIP's goroutine: cancel ends it (withdrawing the VIP), done
// is closed when it has.
type cycle struct {
	cancel func()
	done   chan struct{}
}

// New checks cfg and returns an Owner. It does no I/O.
func New(cfg Config) (*Owner, error) {
	if cfg.Interface == "" {
		return nil, errors.New("vip: no interface")
	}
	if cfg.Elector == nil {
		cfg.Elector = Single{}
	}
	if cfg.Announcements == 0 {
		cfg.Announcements = 5
	}
	if cfg.Interval == 0 {
		cfg.Interval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	o := &Owner{cfg: cfg, log: cfg.Logger, state: map[netip.Addr]*State{}, cycles: map[netip.Addr]*cycle{}}
	for _, a := range cfg.VIPs {
		if err := Check(a); err != nil {
			return nil, err
		}
		if o.state[a] != nil {
			return nil, fmt.Errorf("vip: %s is listed twice", a)
		}
		o.state[a] = &State{VIP: a, Interface: cfg.Interface}
	}
	return o, nil
}

// Status returns the state of every VIP, in address order.
func (o *Owner) Status() []State {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]State, 0, len(o.state))
	for _, s := range o.state {
		out = append(out, *s)
	}
	slices.SortFunc(out, func(a, b State) int { return a.VIP.Compare(b.VIP) })
	return out
}

// Set changes the VIPs to own to vips (duplicates count once): while Run
// runs, new ones are campaigned for and taken at once, and dropped ones
// withdrawn, after which they leave Status. An invalid address changes
// nothing.
func (o *Owner) Set(vips []netip.Addr) error {
	want := make(map[netip.Addr]bool, len(vips))
	for _, a := range vips {
		if err := Check(a); err != nil {
			return err
		}
		want[a] = true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for a, s := range o.state {
		if want[a] || s.removed {
			continue
		}
		s.removed = true
		if c := o.cycles[a]; c != nil {
			c.cancel()
		} else {
			delete(o.state, a)
		}
	}
	for a := range want {
		if s := o.state[a]; s != nil && !s.removed {
			continue
		}
		// A dropped VIP still being withdrawn is withdrawn by its old
		// cycle's view of who added it, which this state now carries.
		o.state[a] = &State{VIP: a, Interface: o.cfg.Interface, added: o.state[a] != nil && o.state[a].added}
		if o.start != nil {
			o.start(a)
		}
	}
	return nil
}

// finished is called by a VIP's cycle c when it has ended: a VIP that Set
// dropped (and did not add again since) leaves the state.
func (o *Owner) finished(a netip.Addr, c *cycle) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(c.done)
	if o.cycles[a] != c {
		return // Set added it again; a new cycle runs
	}
	delete(o.cycles, a)
	if s := o.state[a]; s != nil && s.removed {
		delete(o.state, a)
	}
}

func (o *Owner) update(a netip.Addr, f func(*State)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if s := o.state[a]; s != nil {
		f(s)
	}
}

// Check says why a cannot be a virtual IP (unspecified, loopback,
// multicast, link-local, IPv4-mapped), or nil.
func Check(a netip.Addr) error {
	if !a.IsValid() || a.IsUnspecified() || a.IsLoopback() || a.IsMulticast() || a.IsLinkLocalUnicast() || a.Is4In6() {
		return fmt.Errorf("vip: %s cannot be a virtual IP", a)
	}
	return nil
}
