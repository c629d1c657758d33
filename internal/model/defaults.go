package model

import (
	"net/netip"
	"strings"
	"time"
)

// Defaults written into a document before validation. Each is documented on
// the field it fills.
const (
	DefaultAdminListen         = "127.0.0.1:9090"
	DefaultMaxDeletes          = 5
	DefaultShutdownTimeout     = 30 * time.Second
	DefaultConnectTimeout      = 5 * time.Second  // HTTP listeners: dial a target
	DefaultRequestTimeout      = 60 * time.Second // HTTP listeners: wait for response headers
	DefaultInterval            = 10 * time.Second
	DefaultTimeout             = 5 * time.Second
	DefaultThreshold           = 3
	DefaultExpectedStatus      = "200-399"
	DefaultRecordTTL           = 300 * time.Second
	DefaultDeregistrationDelay = 300 * time.Second
	DefaultStickiness          = 24 * time.Hour
	// DefaultMaxFlows bounds a UDP listener's flow table.
	DefaultMaxFlows = 65536
	// DefaultHealthyCheckerPercent is Route 53's rule: healthy when more than
	// 18% of checkers say so.
	DefaultHealthyCheckerPercent = 18
	// DefaultRoute53Region is the signing region of Route 53's global endpoint.
	DefaultRoute53Region = "us-east-1"
)

// SetDefaults fills every field left unset with its documented default. It
// never changes a value that was set, so validation still sees every mistake.
func (d *Document) SetDefaults() {
	if d.Server.Admin.Listen == "" {
		d.Server.Admin.Listen = DefaultAdminListen
	}
	if d.Server.Admin.MaxDeletes == nil {
		d.Server.Admin.MaxDeletes = ptr(DefaultMaxDeletes)
	}
	if d.Server.ShutdownTimeout == 0 {
		d.Server.ShutdownTimeout = Duration(DefaultShutdownTimeout)
	}
	if d.Server.DNS.LoadBalancerTTL == 0 {
		d.Server.DNS.LoadBalancerTTL = Duration(60 * time.Second)
	}
	for i := range d.Server.DNS.Secondaries {
		d.Server.DNS.Secondaries[i].setDefaults()
	}
	d.Server.DNS.RRL.setDefaults()
	if d.Server.Route53.Region == "" {
		d.Server.Route53.Region = DefaultRoute53Region
	}
	d.State.SetDefaults()
}

// SetDefaults fills every resource field left unset with its documented default.
func (s *State) SetDefaults() {
	for i := range s.HealthChecks {
		hc := &s.HealthChecks[i]
		if hc.InitialState == "" {
			hc.InitialState = Healthy
		}
		if hc.Type.probes() {
			hc.Probe.setDefaults(true)
		}
		if hc.Type == CheckMetric {
			if hc.InsufficientData == "" {
				hc.InsufficientData = InsufficientHealthy
			}
			if hc.Interval == 0 {
				hc.Interval = Duration(DefaultInterval)
			}
			if hc.Timeout == 0 {
				hc.Timeout = Duration(min(DefaultTimeout, hc.Interval.D()/2))
			}
			if hc.HealthyThreshold == 0 {
				hc.HealthyThreshold = 1
			}
			if hc.UnhealthyThreshold == 0 {
				hc.UnhealthyThreshold = 1
			}
		}
	}
	for i := range s.HostedZones {
		s.HostedZones[i].setDefaults()
	}
	for i := range s.TargetGroups {
		s.TargetGroups[i].setDefaults()
	}
	for i := range s.LoadBalancers {
		for j := range s.LoadBalancers[i].Listeners {
			s.LoadBalancers[i].Listeners[j].setDefaults()
		}
		if d := s.LoadBalancers[i].DataPlane; d != nil {
			d.setDefaults()
		}
	}
}

// probes reports whether checks of type t send probes to an endpoint.
func (t CheckType) probes() bool {
	return t == CheckHTTP || t == CheckHTTPS || t == CheckTCP || t == CheckGRPC
}

func (p *Probe) setDefaults(named bool) {
	if p.Interval == 0 {
		p.Interval = Duration(DefaultInterval)
	}
	if p.Timeout == 0 {
		p.Timeout = Duration(min(DefaultTimeout, p.Interval.D()/2))
	}
	if p.ConnectTimeout == 0 {
		p.ConnectTimeout = p.Timeout
	}
	if p.HealthyThreshold == 0 {
		p.HealthyThreshold = DefaultThreshold
	}
	if p.UnhealthyThreshold == 0 {
		p.UnhealthyThreshold = DefaultThreshold
	}
	if p.HealthyCheckerPercent == nil {
		p.HealthyCheckerPercent = ptr(DefaultHealthyCheckerPercent)
	}
	if p.Type == CheckHTTP || p.Type == CheckHTTPS {
		if p.Path == "" {
			p.Path = "/"
		}
		if p.Method == "" {
			p.Method = "GET"
		}
		if p.ExpectedStatus == "" {
			p.ExpectedStatus = DefaultExpectedStatus
		}
	}
	// Named checks probe a fixed endpoint; target-group probes default to
	// each target's own port (Port 0).
	if named && p.Port == 0 {
		switch p.Type {
		case CheckHTTP:
			p.Port = 80
		case CheckHTTPS:
			p.Port = 443
		}
	}
}

func (z *HostedZone) setDefaults() {
	apex := strings.TrimSuffix(z.Name, ".")
	if len(z.NameServers) == 0 && apex != "" {
		z.NameServers = []string{"ns1." + apex + "."}
	}
	soa := &z.SOA
	if soa.MName == "" && len(z.NameServers) > 0 {
		soa.MName = z.NameServers[0]
	}
	if soa.RName == "" && apex != "" {
		soa.RName = "hostmaster." + apex + "."
	}
	setDur(&soa.Refresh, 2*time.Hour)
	setDur(&soa.Retry, 15*time.Minute)
	setDur(&soa.Expire, 14*24*time.Hour)
	setDur(&soa.NegativeTTL, 15*time.Minute)
	setDur(&soa.TTL, 15*time.Minute)
	for i := range z.Records {
		r := &z.Records[i]
		if r.TTL == nil && r.Alias == nil {
			ttl := Duration(DefaultRecordTTL)
			r.TTL = &ttl
		}
	}
}

func (tg *TargetGroup) setDefaults() {
	if tg.Algorithm == "" {
		tg.Algorithm = RoundRobin
	}
	if tg.CrossZone == nil {
		tg.CrossZone = ptr(true)
	}
	if tg.DNSFailover == nil {
		tg.DNSFailover = &Threshold{Count: 1}
	}
	if tg.RoutingFailover == nil {
		tg.RoutingFailover = &Threshold{Count: 1}
	}
	if tg.DeregistrationDelay == nil {
		tg.DeregistrationDelay = ptr(Duration(DefaultDeregistrationDelay))
	}
	if tg.HealthCheck == nil {
		tg.HealthCheck = &Probe{}
	}
	if tg.HealthCheck.Type == "" {
		if tg.Protocol.IsL7() {
			tg.HealthCheck.Type = CheckHTTP
		} else {
			tg.HealthCheck.Type = CheckTCP
		}
	}
	tg.HealthCheck.setDefaults(false)
	if tg.Stickiness != nil && tg.Stickiness.Duration == 0 && tg.Stickiness.Type != StickySourceIP {
		tg.Stickiness.Duration = Duration(DefaultStickiness)
	}
	od := tg.OutlierDetection
	if od == nil {
		od = &OutlierDetection{}
		tg.OutlierDetection = od
	}
	if od.ConsecutiveFailures == 0 {
		od.ConsecutiveFailures = 5
	}
	if od.ConsecutiveConnectFailures == 0 {
		od.ConsecutiveConnectFailures = 1
	}
	setDur(&od.BaseEjection, 30*time.Second)
	setDur(&od.MaxEjection, 5*time.Minute)
	if od.MaxEjectionPercent == nil {
		od.MaxEjectionPercent = ptr(50)
	}
	if tg.ConnectionTermination == nil && !tg.Protocol.IsL7() {
		tg.ConnectionTermination = ptr(true)
	}
	for i := range tg.Targets {
		t := &tg.Targets[i]
		if t.Port == 0 {
			t.Port = tg.Port
		}
		if t.Weight == nil {
			t.Weight = ptr(1)
		}
	}
}

func (l *Listener) setDefaults() {
	if l.IdleTimeout == 0 {
		switch {
		case l.Protocol == ProtoUDP:
			l.IdleTimeout = Duration(120 * time.Second)
		case l.Protocol.IsL7():
			l.IdleTimeout = Duration(60 * time.Second)
		default:
			l.IdleTimeout = Duration(350 * time.Second)
		}
	}
	if l.MaxFlows == 0 && l.Protocol == ProtoUDP {
		l.MaxFlows = DefaultMaxFlows
	}
	if l.Protocol.IsL7() {
		if l.ConnectTimeout == 0 {
			l.ConnectTimeout = Duration(DefaultConnectTimeout)
		}
		if l.RequestTimeout == 0 {
			l.RequestTimeout = Duration(DefaultRequestTimeout)
		}
	}
	l.DefaultAction.setDefaults()
	for i := range l.Rules {
		l.Rules[i].Action.setDefaults()
	}
}

func (a *Action) setDefaults() {
	if f := a.Forward; f != nil {
		for i := range f.TargetGroups {
			if f.TargetGroups[i].Weight == nil {
				f.TargetGroups[i].Weight = ptr(1)
			}
		}
	}
	if r := a.Redirect; r != nil && r.Status == 0 {
		r.Status = 301
	}
	if f := a.FixedResponse; f != nil && f.ContentType == "" {
		f.ContentType = "text/plain"
	}
}

// Defaults of response rate limiting, as BIND's.
const (
	DefaultRRLSlip       = 2
	DefaultRRLWindow     = 15 * time.Second
	DefaultRRLIPv4Prefix = 24
	DefaultRRLIPv6Prefix = 56
)

func (s *DNSSecondary) setDefaults() {
	if s.TSIG != nil && s.TSIG.Algorithm == "" {
		s.TSIG.Algorithm = HMACSHA256
	}
	if len(s.Allow) == 0 {
		// An address that does not parse is left for validation to report.
		if ap, err := netip.ParseAddrPort(s.Address); err == nil {
			a := ap.Addr().Unmap()
			s.Allow = []netip.Prefix{netip.PrefixFrom(a, a.BitLen())}
		}
	}
}

func (r *RRL) setDefaults() {
	if r.Slip == nil {
		r.Slip = ptr(DefaultRRLSlip)
	}
	setDur(&r.Window, DefaultRRLWindow)
	if r.IPv4Prefix == 0 {
		r.IPv4Prefix = DefaultRRLIPv4Prefix
	}
	if r.IPv6Prefix == 0 {
		r.IPv6Prefix = DefaultRRLIPv6Prefix
	}
}

func setDur(d *Duration, v time.Duration) {
	if *d == 0 {
		*d = Duration(v)
	}
}

func ptr[T any](v T) *T { return &v }
