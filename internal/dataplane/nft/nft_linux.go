package nft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/nftables"
	mnl "github.com/mdlayher/netlink"
	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/nsrun"
	"github.com/switchboard/switchboard/internal/view"
)

var _ dataplane.Backend = (*Backend)(nil)

// TableName names our tables: ip and ip6 switchboard (NAT), netdev switchboard (DSR).
const TableName = "switchboard"

// hashSeed seeds every jhash, so that the same flow lands on the same slot
// on every node and after every rewrite of a rule.
const hashSeed = 0x5b0a1d

// Backend programs nftables towards views. Apply and Close may be called
// from any goroutine; they are serialized.
type Backend struct {
	// Immutable after New.
	cfg Config
	log *slog.Logger

	mu       sync.Mutex // guards the fields below
	ns       vnetns.NsHandle
	conn     *nftables.Conn
	links    *netlink.Handle     // rtnetlink in our namespace
	dump     *mnl.Conn           // netfilter netlink for rule dumps, dialed on first use
	forward  *os.File            // net.ipv4.ip_forward of our namespace, opened there
	forward6 *os.File            // net.ipv6.conf.all.forwarding, likewise
	maps     map[mapKey]*slotMap // the slots we know are in the kernel
	// scratch is reused for each service's wanted slots.
	scratch []uint32
	// maglev is reused for each service's Maglev table.
	maglev maglevScratch
	closed bool
}

type mapKey struct {
	family nftables.TableFamily
	name   string
}

// New returns a Backend for cfg. It does no I/O: the first Apply opens the
// netlink connection and reads what is programmed.
func New(cfg Config) (*Backend, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.BatchSize == 0 {
		cfg.BatchSize = 1000
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > 1500 {
		return nil, fmt.Errorf("dataplane/nft: batch size %d is outside 1–1500", cfg.BatchSize)
	}
	if cfg.TxnSize == 0 {
		cfg.TxnSize = 2500
	}
	if cfg.TxnSize < 1 {
		return nil, fmt.Errorf("dataplane/nft: transaction size %d is below 1", cfg.TxnSize)
	}
	if cfg.NftPath == "" {
		cfg.NftPath = "nft"
	}
	if cfg.Serves == nil {
		cfg.Serves = func(lb *model.LoadBalancer) bool { return lb.BackendOf() == model.BackendNft }
	}
	return &Backend{cfg: cfg, log: cfg.Logger, ns: vnetns.None(), maps: map[mapKey]*slotMap{}}, nil
}

// Available says why the nft backend cannot run here (in the network
// namespace at nsPath, or the process's own when empty), or nil when it can.
func Available(nsPath string) error {
	if os.Geteuid() != 0 && !hasNetAdmin() {
		return fmt.Errorf("dataplane/nft: %w: not root and no CAP_NET_ADMIN (run as root, or grant the capability: setcap cap_net_admin+ep)", dataplane.ErrUnavailable)
	}
	if _, err := exec.LookPath("nft"); err != nil {
		return fmt.Errorf("dataplane/nft: %w: the nft command is not installed (apt-get install nftables)", dataplane.ErrUnavailable)
	}
	var opts []nftables.ConnOption
	if nsPath != "" {
		h, err := vnetns.GetFromPath(nsPath)
		if err != nil {
			return fmt.Errorf("dataplane/nft: %w: network namespace %s: %v", dataplane.ErrUnavailable, nsPath, err)
		}
		defer h.Close()
		opts = append(opts, nftables.WithNetNSFd(int(h)))
	}
	c, err := nftables.New(opts...)
	if err == nil {
		_, err = c.ListTables()
	}
	if err != nil {
		return fmt.Errorf("dataplane/nft: %w: the kernel refuses nf_tables requests (is nf_tables built or loaded? modprobe nf_tables): %v", dataplane.ErrUnavailable, err)
	}
	return nil
}

// hasNetAdmin reports whether the process's effective capabilities hold
// CAP_NET_ADMIN (bit 12).
func hasNetAdmin() bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		if hex, ok := strings.CutPrefix(line, "CapEff:"); ok {
			var caps uint64
			if _, err := fmt.Sscanf(strings.TrimSpace(hex), "%x", &caps); err == nil {
				return caps&(1<<12) != 0
			}
		}
	}
	return false
}

// open dials netlink in the configured namespace. b.mu must be held.
func (b *Backend) openLocked() error {
	if b.conn != nil {
		return nil
	}
	opts := []nftables.ConnOption{nftables.AsLasting()}
	if b.cfg.NetNS != "" {
		h, err := vnetns.GetFromPath(b.cfg.NetNS)
		if err != nil {
			return fmt.Errorf("dataplane/nft: network namespace %s: %w", b.cfg.NetNS, err)
		}
		b.ns = h
		opts = append(opts, nftables.WithNetNSFd(int(h)))
	}
	c, err := nftables.New(opts...)
	if err != nil {
		return fmt.Errorf("dataplane/nft: netlink: %w", err)
	}
	var links *netlink.Handle
	if b.ns.IsOpen() {
		links, err = netlink.NewHandleAt(b.ns)
	} else {
		links, err = netlink.NewHandle()
	}
	if err != nil {
		c.CloseLasting()
		return fmt.Errorf("dataplane/nft: rtnetlink: %w", err)
	}
	// A sysctl file belongs to the namespace it was opened in.
	b.inNS(func() error {
		b.forward, _ = os.Open("/proc/sys/net/ipv4/ip_forward")
		b.forward6, _ = os.Open("/proc/sys/net/ipv6/conf/all/forwarding")
		return nil
	})
	b.conn, b.links = c, links
	return nil
}

// service is a desired service as this backend programs it.
type service struct {
	d       dataplane.Desired
	mode    model.DataPlaneMode
	family  nftables.TableFamily
	mapName string
	slots   int
	dev     string // dsr
	rule    string // nft rule text, without comment
	post    string // nat: the masquerade rule
	targets []dataplane.Target
}

func (s *service) comment(rule string) string {
	h := fnv.New32a()
	h.Write([]byte(rule))
	c := fmt.Sprintf("%s %08x", s.d.Name, h.Sum32())
	if len(c) > 120 {
		c = c[len(c)-120:]
	}
	return c
}

// Apply reconciles the kernel towards v: it reads our tables' chains, rules
// and maps, rewrites the static part only when a service came, went or
// changed shape, and writes only the slots whose target changed.
func (b *Backend) Apply(ctx context.Context, v *view.View) (dataplane.Report, error) {
	start := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	rep := dataplane.Report{Backend: "nft", Version: v.Version}
	if b.closed {
		return rep, errors.New("dataplane/nft: apply after close")
	}
	if err := b.openLocked(); err != nil {
		return rep, err
	}
	desired, problems := dataplane.Plan(v, b.cfg.Serves)
	rep.Problems = problems
	svcs := b.services(desired, &rep)
	if err := b.reconcileStatic(ctx, svcs, &rep); err != nil {
		// What the kernel holds is unknown now: read it again next time.
		clear(b.maps)
		rep.Took = time.Since(start)
		return rep, err
	}
	if err := b.reconcileSlots(ctx, svcs, &rep); err != nil {
		clear(b.maps)
		rep.Took = time.Since(start)
		return rep, err
	}
	for _, s := range svcs {
		ds := dataplane.Service{Name: s.d.Name, VIP: fmt.Sprintf("%s:%d", s.d.VIP, s.d.Port), Protocol: s.d.Protocol,
			Targets: make([]dataplane.WeightedTarget, len(s.targets))}
		for i, t := range s.targets {
			ds.Targets[i] = dataplane.WeightedTarget{Addr: t.Addr, Weight: t.Weight}
		}
		rep.Services = append(rep.Services, ds)
	}
	rep.Took = time.Since(start)
	return rep, nil
}

// services turns the desired services into rules, dropping (with a
// problem) what this backend cannot program.
func (b *Backend) services(desired []dataplane.Desired, rep *dataplane.Report) []*service {
	devs := map[string]error{}
	forwarding := map[bool]bool{} // by IPv6: whether the kernel forwards
	if slices.ContainsFunc(desired, func(d dataplane.Desired) bool { return d.Setting.Mode != model.ModeDSR }) {
		forwarding[false], forwarding[true] = sysctlOn(b.forward), sysctlOn(b.forward6)
	}
	var out []*service
	for _, d := range desired {
		v6 := d.VIP.Is6()
		s := &service{d: d, mode: d.Setting.Mode, slots: d.Setting.TableSize}
		if s.slots == 0 {
			s.slots = model.DefaultTableSize
		}
		for _, t := range d.Targets {
			switch {
			case t.Addr.Addr().Is6() != v6:
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: target %s: the kernel forwards within one IP version, and the VIP is the other", d.Name, t.Addr))
			case s.mode == model.ModeDSR && t.Addr.Port() != d.Port:
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: target %s: dsr cannot change the port to %d", d.Name, t.Addr, t.Addr.Port()))
			default:
				s.targets = append(s.targets, t)
			}
		}
		if len(s.targets) == 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: no routable target: its flows are not forwarded", d.Name))
		}
		if d.FailingOpen {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: failing open: routing to unhealthy targets too", d.Name))
		}
		ip := "ip"
		if v6 {
			ip = "ip6"
		}
		hash := fmt.Sprintf("jhash %s saddr . %s sport mod %d seed 0x%x", ip, d.Protocol, s.slots, hashSeed)
		match := fmt.Sprintf("%s daddr %s %s dport %d", ip, d.VIP, d.Protocol, d.Port)
		switch s.mode {
		case model.ModeDSR:
			s.family, s.dev = nftables.TableFamilyNetdev, d.Setting.Interface
			err, seen := devs[s.dev]
			if !seen {
				err = b.linkExists(s.dev)
				devs[s.dev] = err
			}
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: interface %s: %v", d.Name, s.dev, err))
				continue
			}
			s.mapName = mapName(d.Name, "dsr", s.slots)
			s.rule = fmt.Sprintf("%s fwd %s to %s map @%s device %q", match, ip, hash, s.mapName, s.dev)
		default:
			if !forwarding[v6] {
				knob := "net.ipv4.ip_forward"
				if v6 {
					knob = "net.ipv6.conf.all.forwarding"
				}
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %s is 0, so NAT cannot forward: set it to 1", d.Name, knob))
			}
			s.family = nftables.TableFamilyIPv4
			if v6 {
				s.family = nftables.TableFamilyIPv6
			}
			s.mapName = mapName(d.Name, "nat", s.slots)
			s.rule = fmt.Sprintf("%s dnat %s addr . port to %s map @%s", match, ip, hash, s.mapName)
			s.post = fmt.Sprintf("meta l4proto %s ct status dnat ct original %s daddr %s ct original proto-dst %d masquerade", d.Protocol, ip, d.VIP, d.Port)
		}
		out = append(out, s)
	}
	return out
}

// mapName names a service's map after what decides its contents' layout.
func mapName(svc, mode string, slots int) string {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%d", svc, mode, slots)
	return fmt.Sprintf("m_%016x", h.Sum64())
}

// linkExists reports whether the interface exists in our namespace.
func (b *Backend) linkExists(dev string) error {
	_, err := b.links.LinkByName(dev)
	return err
}

// sysctlOn reads a sysctl file opened in our namespace: false only when
// it reads 0.
func sysctlOn(f *os.File) bool {
	if f == nil {
		return true // cannot tell: do not complain
	}
	var v [8]byte
	n, err := f.ReadAt(v[:], 0)
	return n == 0 || (err != nil && err != io.EOF) || strings.TrimSpace(string(v[:n])) != "0"
}

// inNS runs fn on a thread in our namespace.
func (b *Backend) inNS(fn func() error) error { return nsrun.In(b.ns, fn) }

// nft runs the nft command on script, in our namespace.
func (b *Backend) nft(ctx context.Context, script string) error {
	return b.inNS(func() error {
		cmd := exec.CommandContext(ctx, b.cfg.NftPath, "-f", "-")
		cmd.Stdin = strings.NewReader(script)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("dataplane/nft: nft -f: %w: %s", err, strings.TrimSpace(stderr.String()))
		}
		return nil
	})
}

// chainSpec is a chain we want and its rules' texts and comments in order.
type chainSpec struct {
	family   nftables.TableFamily
	name     string
	hook     string // the "type … hook … priority …;" part
	rules    []string
	comments []string
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyNetdev:
		return "netdev"
	case nftables.TableFamilyIPv6:
		return "ip6"
	}
	return "ip"
}

// wantChains lays out the chains of every family's table.
func wantChains(svcs []*service) map[nftables.TableFamily][]*chainSpec {
	out := map[nftables.TableFamily][]*chainSpec{}
	byDev := map[string]*chainSpec{}
	for _, s := range svcs {
		switch s.family {
		case nftables.TableFamilyIPv4, nftables.TableFamilyIPv6:
			if out[s.family] == nil {
				out[s.family] = []*chainSpec{
					{family: s.family, name: "prerouting", hook: "type nat hook prerouting priority dstnat; policy accept;"},
					{family: s.family, name: "output", hook: "type nat hook output priority -100; policy accept;"},
					{family: s.family, name: "postrouting", hook: "type nat hook postrouting priority srcnat; policy accept;"},
				}
			}
			chains := out[s.family]
			for _, c := range chains[:2] {
				c.rules = append(c.rules, s.rule)
				c.comments = append(c.comments, s.comment(s.rule))
			}
			post := chains[2]
			post.rules = append(post.rules, s.post)
			post.comments = append(post.comments, s.comment(s.post))
		case nftables.TableFamilyNetdev:
			c := byDev[s.dev]
			if c == nil {
				// Priority -500: before anything else at ingress.
				c = &chainSpec{family: s.family, name: "in_" + s.dev, hook: fmt.Sprintf("type filter hook ingress device %q priority -500; policy accept;", s.dev)}
				byDev[s.dev] = c
				out[s.family] = append(out[s.family], c)
			}
			c.rules = append(c.rules, s.rule)
			c.comments = append(c.comments, s.comment(s.rule))
		}
	}
	return out
}

var families = []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyNetdev}

// reconcileStatic reads our tables and, for each family whose chains,
// rules or maps differ from svcs, rewrites them in one nft transaction.
func (b *Backend) reconcileStatic(ctx context.Context, svcs []*service, rep *dataplane.Report) error {
	want := wantChains(svcs)
	var script strings.Builder
	for _, fam := range families {
		fn := familyName(fam)
		wantMaps := map[string]*service{}
		for _, s := range svcs {
			if s.family == fam {
				wantMaps[s.mapName] = s
			}
		}
		haveChains, haveMaps, exists, err := b.readTable(fam)
		if err != nil {
			return err
		}
		chains := want[fam]
		if len(chains) == 0 {
			if exists {
				fmt.Fprintf(&script, "delete table %s %s\n", fn, TableName)
				rep.Removed += len(haveMaps)
				for _, rules := range haveChains {
					rep.Removed += len(rules)
				}
				for k := range b.maps {
					if k.family == fam {
						delete(b.maps, k)
					}
				}
			}
			continue
		}
		same := len(haveChains) == len(chains)
		for _, c := range chains {
			h, ok := haveChains[c.name]
			same = same && ok && slices.Equal(h, c.comments)
		}
		for name := range wantMaps {
			same = same && slices.Contains(haveMaps, name)
		}
		same = same && len(haveMaps) == len(wantMaps)
		if same {
			continue
		}
		fmt.Fprintf(&script, "add table %s %s\n", fn, TableName)
		for _, c := range chains {
			fmt.Fprintf(&script, "add chain %s %s %s { %s }\n", fn, TableName, c.name, c.hook)
		}
		for _, s := range slices.Sorted(maps.Keys(wantMaps)) {
			m := wantMaps[s]
			ip := "ip"
			if m.d.VIP.Is6() {
				ip = "ip6"
			}
			data := ip + " daddr"
			if fam != nftables.TableFamilyNetdev {
				// The port's type must name the rule's protocol.
				data += " . " + m.d.Protocol + " dport"
			}
			fmt.Fprintf(&script, "add map %s %s %s { typeof jhash ip saddr mod 2 : %s; size %d; comment %q; }\n", fn, TableName, s, data, m.slots, m.d.Name)
		}
		for _, c := range chains {
			fmt.Fprintf(&script, "flush chain %s %s %s\n", fn, TableName, c.name)
			for i, r := range c.rules {
				fmt.Fprintf(&script, "add rule %s %s %s %s comment %q\n", fn, TableName, c.name, r, c.comments[i])
			}
			rep.Added += len(c.rules)
			rep.Removed += len(haveChains[c.name])
		}
		for name, rules := range haveChains {
			if !slices.ContainsFunc(chains, func(c *chainSpec) bool { return c.name == name }) {
				fmt.Fprintf(&script, "delete chain %s %s %s\n", fn, TableName, name)
				rep.Removed += len(rules)
			}
		}
		for _, name := range haveMaps {
			if wantMaps[name] == nil {
				fmt.Fprintf(&script, "delete map %s %s %s\n", fn, TableName, name)
				delete(b.maps, mapKey{fam, name})
				rep.Removed++
			}
		}
	}
	if script.Len() == 0 {
		return nil
	}
	b.log.Info("rewriting nftables rules", "services", len(svcs))
	b.log.Debug("nft script", "script", script.String())
	return b.nft(ctx, script.String())
}

// readTable reads our table of family fam: each chain's rule comments in
// order, and the names of its maps.
func (b *Backend) readTable(fam nftables.TableFamily) (chains map[string][]string, mapNames []string, exists bool, err error) {
	t, err := b.conn.ListTableOfFamily(TableName, fam)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "no such file") {
			return nil, nil, false, nil
		}
		return nil, nil, false, fmt.Errorf("dataplane/nft: read table %s %s: %w", familyName(fam), TableName, err)
	}
	all, err := b.conn.ListChainsOfTableFamily(fam)
	if err != nil {
		return nil, nil, true, fmt.Errorf("dataplane/nft: list chains: %w", err)
	}
	rules, err := b.ruleComments(fam)
	if err != nil {
		return nil, nil, true, fmt.Errorf("dataplane/nft: list rules: %w", err)
	}
	chains = map[string][]string{}
	for _, c := range all {
		if c.Table.Name == TableName {
			chains[c.Name] = rules[c.Name]
		}
	}
	sets, err := b.conn.GetSets(t)
	if err != nil {
		return nil, nil, true, fmt.Errorf("dataplane/nft: list maps: %w", err)
	}
	for _, s := range sets {
		mapNames = append(mapNames, s.Name)
	}
	return chains, mapNames, true, nil
}

// Close removes our tables and closes the netlink connection. After Close
// nothing the backend programmed remains.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if err := b.openLocked(); err != nil {
		return err
	}
	var errs []error
	for _, fam := range families {
		if _, err := b.conn.ListTableOfFamily(TableName, fam); err != nil {
			continue // not there
		}
		b.conn.DelTable(&nftables.Table{Name: TableName, Family: fam})
		if err := b.conn.Flush(); err != nil {
			errs = append(errs, fmt.Errorf("dataplane/nft: delete table %s %s: %w", familyName(fam), TableName, err))
		}
	}
	errs = append(errs, b.conn.CloseLasting())
	b.links.Close()
	if b.dump != nil {
		b.dump.Close()
	}
	for _, f := range []*os.File{b.forward, b.forward6} {
		if f != nil {
			f.Close()
		}
	}
	if b.ns.IsOpen() {
		b.ns.Close()
	}
	return errors.Join(errs...)
}
