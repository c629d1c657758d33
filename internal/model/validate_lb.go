package model

import (
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var (
	headerNameRE = regexp.MustCompile(`^[!#$%&'*+.^_|~0-9A-Za-z-]+$`)
	hostPatRE    = regexp.MustCompile(`^[A-Za-z0-9*?._-]{1,128}$`)
)

func (v *validator) targetGroup(p Path, tg *TargetGroup) {
	switch tg.Protocol {
	case "":
		v.add(p.Field("protocol"), "http, https, grpc, tcp, tls or udp", "is required")
	case ProtoTLSPassthrough:
		v.add(p.Field("protocol"), "http, https, grpc, tcp, tls or udp", "tls_passthrough is a listener protocol; its target groups speak tcp")
	}
	if tg.Port != 0 {
		v.port(p.Field("port"), tg.Port)
	}
	seen := map[netip.AddrPort]Path{}
	for j := range tg.Targets {
		t := &tg.Targets[j]
		tp := p.Field("targets").Index(j, "")
		if !t.Address.IsValid() {
			v.add(tp.Field("address"), "an IP address", "is required")
		}
		switch {
		case t.Port == 0:
			v.add(tp.Field("port"), "1–65535, here or as the group's port", "target has no port")
		case t.Port != tg.Port: // an inherited port was checked as the group's
			v.port(tp.Field("port"), t.Port)
		}
		v.zoneRef(tp.Field("zone"), t.Zone)
		v.intRange(tp.Field("weight"), *t.Weight, 0, 1000)
		ap := netip.AddrPortFrom(t.Address, uint16(t.Port))
		if first, dup := seen[ap]; dup && t.Address.IsValid() {
			v.add(tp, "each address and port once per group", "target %s is also at %s", ap, first)
		}
		seen[ap] = tp
	}
	v.probe(p.Field("health_check"), tg.HealthCheck, false)
	if !enumOK(tg.Algorithm, Algorithm("").Values()) {
		v.add(p.Field("algorithm"), join(Algorithm("").Values()), "%q is not an algorithm", tg.Algorithm)
	}
	v.hashOn(p, tg)
	v.threshold(p.Field("dns_failover"), tg.DNSFailover)
	v.threshold(p.Field("routing_failover"), tg.RoutingFailover)
	d, r := tg.DNSFailover, tg.RoutingFailover
	if d.Count != 0 && r.Count != 0 && d.Count < r.Count {
		v.add(p.Field("dns_failover").Field("count"), "at least routing_failover.count, as ELB", "%d is below routing_failover.count %d", d.Count, r.Count)
	}
	if d.Percent != 0 && r.Percent != 0 && d.Percent < r.Percent {
		v.add(p.Field("dns_failover").Field("percent"), "at least routing_failover.percent, as ELB", "%d is below routing_failover.percent %d", d.Percent, r.Percent)
	}
	v.duration(p.Field("deregistration_delay"), *tg.DeregistrationDelay, 0, time.Hour)
	if tg.SlowStart != 0 {
		if v.duration(p.Field("slow_start"), tg.SlowStart, 30*time.Second, 900*time.Second) && tg.Algorithm == LeastOutstandingRequests {
			v.add(p.Field("slow_start"), "round_robin or weighted_random, as ALB", "slow start does not work with least_outstanding_requests")
		}
	}
	v.stickiness(p, tg)
	if od := tg.OutlierDetection; od != nil && !od.Disabled {
		op := p.Field("outlier_detection")
		v.intRange(op.Field("consecutive_failures"), od.ConsecutiveFailures, 1, 1000)
		v.intRange(op.Field("consecutive_connect_failures"), od.ConsecutiveConnectFailures, 1, 1000)
		if v.duration(op.Field("base_ejection"), od.BaseEjection, time.Second, time.Hour) {
			v.duration(op.Field("max_ejection"), od.MaxEjection, od.BaseEjection.D(), 24*time.Hour)
		}
		v.intRange(op.Field("max_ejection_percent"), *od.MaxEjectionPercent, 0, 100)
	}
	if !enumOK(tg.ProxyProtocol, ProxyProtocol("").Values()) {
		v.add(p.Field("proxy_protocol"), join(ProxyProtocol("").Values()), "%q is not a PROXY protocol version", tg.ProxyProtocol)
	} else if tg.ProxyProtocol != "" && tg.Protocol.IsL7() {
		v.add(p.Field("proxy_protocol"), "tcp, tls and udp target groups", "%s target group gets X-Forwarded-For, not PROXY protocol", article(tg.Protocol))
	}
	if tg.Protocol.IsL7() {
		if tg.ConnectionTermination != nil {
			v.add(p.Field("connection_termination"), "tcp, tls and udp target groups", "%s target group drains requests, not connections", article(tg.Protocol))
		}
		if tg.UnhealthyDraining != nil {
			v.add(p.Field("unhealthy_draining"), "tcp, tls and udp target groups", "%s target group drains requests, not connections", article(tg.Protocol))
		}
	}
	if tg.UnhealthyDraining != nil {
		v.duration(p.Field("unhealthy_draining"), *tg.UnhealthyDraining, 0, 100*time.Hour)
	}
	v.intRange(p.Field("max_connections_per_target"), tg.MaxConnectionsPerTarget, 0, 1_000_000)
}

func (v *validator) hashOn(p Path, tg *TargetGroup) {
	h := tg.HashOn
	if tg.Algorithm != ConsistentHash {
		if h != nil {
			v.add(p.Field("hash_on"), "only with algorithm consistent_hash", "is set for %s", tg.Algorithm)
		}
		return
	}
	if h == nil {
		v.add(p.Field("hash_on"), "header, cookie or source_ip", "consistent_hash needs a key to hash")
		return
	}
	n := 0
	for _, set := range []bool{h.Header != "", h.Cookie != "", h.SourceIP} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.add(p.Field("hash_on"), "exactly one of header, cookie and source_ip", "sets %d keys", n)
	}
	if (h.Header != "" || h.Cookie != "") && !tg.Protocol.IsL7() {
		v.add(p.Field("hash_on"), "source_ip for "+string(tg.Protocol)+" groups", "headers and cookies exist only in HTTP")
	}
}

func (v *validator) threshold(p Path, t *Threshold) {
	if t.Count < 0 {
		v.add(p.Field("count"), "0 (off) or more", "%d is negative", t.Count)
	}
	v.intRange(p.Field("percent"), t.Percent, 0, 100)
}

func (v *validator) stickiness(p Path, tg *TargetGroup) {
	s := tg.Stickiness
	if s == nil {
		return
	}
	sp := p.Field("stickiness")
	switch s.Type {
	case StickyLBCookie, StickyAppCookie:
		if !tg.Protocol.IsL7() {
			v.add(sp.Field("type"), "source_ip for "+string(tg.Protocol)+" groups", "cookies exist only in HTTP")
		}
		v.duration(sp.Field("duration"), s.Duration, time.Second, 7*24*time.Hour)
	case StickySourceIP:
		if tg.Protocol.IsL7() {
			v.add(sp.Field("type"), "lb_cookie or app_cookie for HTTP groups", "source_ip stickiness is for L4 groups")
		}
	case "":
		v.add(sp.Field("type"), join(StickinessType("").Values()), "is required")
	default:
		v.add(sp.Field("type"), join(StickinessType("").Values()), "%q is not a stickiness type", s.Type)
	}
	if s.Type == StickyAppCookie && s.CookieName == "" {
		v.add(sp.Field("cookie_name"), "the name of the application's cookie", "app_cookie stickiness needs a cookie name")
	}
}

// transport is what a port is bound on: UDP listeners may share a TCP port number.
func transport(p Protocol) string {
	if p == ProtoUDP {
		return "udp"
	}
	return "tcp"
}

func (v *validator) loadBalancers(base Path) {
	addrs := map[netip.Addr]Path{}
	for i := range v.s.LoadBalancers {
		lb := &v.s.LoadBalancers[i]
		p := base.Index(i, lb.Name)
		if lb.DNSName != "" {
			if msg := checkDNSName(lb.DNSName, false); msg != "" {
				v.add(p.Field("dns_name"), dnsNameAllowed, "%q is not a domain name: it %s", lb.DNSName, msg)
			}
		}
		for j, n := range lb.Nodes {
			np := p.Field("nodes").Index(j, "")
			v.zoneRef(np.Field("zone"), n.Zone)
			if len(n.Addresses) == 0 {
				v.add(np.Field("addresses"), "one or more IP addresses", "a node needs an address")
			}
			for k, a := range n.Addresses {
				if first, dup := addrs[a]; dup {
					v.add(np.Field("addresses").Index(k, ""), "each address on one node", "%s is also at %s", a, first)
				}
				addrs[a] = np.Field("addresses").Index(k, "")
			}
		}
		ports := map[string]Path{}
		for j := range lb.Listeners {
			l := &lb.Listeners[j]
			lp := p.Field("listeners").Index(j, "")
			key := transport(l.Protocol) + "/" + strconv.Itoa(l.Port)
			if first, dup := ports[key]; dup {
				v.add(lp.Field("port"), "one listener per port and transport", "%s port %d is also used at %s", transport(l.Protocol), l.Port, first)
			}
			ports[key] = lp
			v.listener(lp, l)
		}
		v.dataPlane(p, lb)
	}
}

func (v *validator) listener(p Path, l *Listener) {
	switch l.Protocol {
	case ProtoHTTP, ProtoHTTPS, ProtoTCP, ProtoTLS, ProtoTLSPassthrough, ProtoUDP:
	case "":
		v.add(p.Field("protocol"), "http, https, tcp, tls, tls_passthrough or udp", "is required")
	default:
		v.add(p.Field("protocol"), "http, https, tcp, tls, tls_passthrough or udp", "%s is a target group protocol", l.Protocol)
	}
	v.port(p.Field("port"), l.Port)
	terminates := l.Protocol == ProtoHTTPS || l.Protocol == ProtoTLS
	switch {
	case terminates && len(l.Certificates) == 0:
		v.add(p.Field("certificates"), "at least one cert_file and key_file", "%s listener needs a certificate", article(l.Protocol))
	case !terminates && len(l.Certificates) > 0:
		v.add(p.Field("certificates"), "only https and tls listeners", "%s listener does not terminate TLS", article(l.Protocol))
	}
	for j, c := range l.Certificates {
		cp := p.Field("certificates").Index(j, "")
		if c.CertFile == "" {
			v.add(cp.Field("cert_file"), "a path to a PEM certificate chain", "is required")
		}
		if c.KeyFile == "" {
			v.add(cp.Field("key_file"), "a path to a PEM private key", "is required")
		}
	}
	if l.AcceptProxyProtocol && (l.Protocol.IsL7() || l.Protocol == ProtoUDP) {
		v.add(p.Field("accept_proxy_protocol"), "tcp, tls and tls_passthrough listeners", "%s listeners do not read PROXY protocol", l.Protocol)
	}
	if l.IdleTimeout < 0 {
		v.add(p.Field("idle_timeout"), "a positive duration", "%s is negative", l.IdleTimeout)
	}
	if l.MaxConnections != 0 {
		if l.Protocol.IsL7() || l.Protocol == ProtoUDP {
			v.add(p.Field("max_connections"), "tcp, tls and tls_passthrough listeners", "%s listeners do not cap connections here", l.Protocol)
		} else {
			v.intRange(p.Field("max_connections"), l.MaxConnections, 0, 10_000_000)
		}
	}
	if l.MaxFlows != 0 {
		if l.Protocol != ProtoUDP {
			v.add(p.Field("max_flows"), "udp listeners", "%s listeners have no flow table", l.Protocol)
		} else {
			v.intRange(p.Field("max_flows"), l.MaxFlows, 1, 10_000_000)
		}
	}
	isHTTP := l.Protocol.IsL7()
	if isHTTP {
		v.duration(p.Field("connect_timeout"), l.ConnectTimeout, 100*time.Millisecond, time.Minute)
		v.duration(p.Field("request_timeout"), l.RequestTimeout, time.Second, 4000*time.Second)
	} else {
		if l.ConnectTimeout != 0 {
			v.add(p.Field("connect_timeout"), "http and https listeners", "%s listener does not time target connections", article(l.Protocol))
		}
		if l.RequestTimeout != 0 {
			v.add(p.Field("request_timeout"), "http and https listeners", "%s listener has no HTTP requests to time", article(l.Protocol))
		}
	}
	if len(l.Rules) > 0 && !isHTTP && l.Protocol != ProtoTLSPassthrough {
		v.add(p.Field("rules"), "rules on http, https and tls_passthrough listeners", "%s listener has only a default action", article(l.Protocol))
	}
	prios := map[int]Path{}
	for j := range l.Rules {
		r := &l.Rules[j]
		rp := p.Field("rules").Index(j, "")
		if v.intRange(rp.Field("priority"), r.Priority, 1, 50000) {
			if first, dup := prios[r.Priority]; dup {
				v.add(rp.Field("priority"), "unique within the listener", "priority %d is also used at %s", r.Priority, first)
			}
			prios[r.Priority] = rp
		}
		v.conditions(rp.Field("conditions"), &r.Conditions, l.Protocol)
		v.action(rp.Field("action"), &r.Action, l.Protocol)
	}
	v.action(p.Field("default_action"), &l.DefaultAction, l.Protocol)
}

func (v *validator) conditions(p Path, c *Conditions, proto Protocol) {
	if proto == ProtoTLSPassthrough {
		if len(c.Path)+len(c.Headers)+len(c.Methods)+len(c.Query) > 0 || c.GRPC != nil {
			v.add(p, "host (the SNI name) and source_cidrs", "a tls_passthrough listener sees no HTTP request")
		}
	}
	n := len(c.Host) + len(c.Path) + len(c.Headers) + len(c.Methods) + len(c.Query) + len(c.SourceCIDRs)
	if c.GRPC != nil {
		n++
	}
	if n == 0 {
		v.add(p, "host, path, headers, methods, query, source_cidrs or grpc", "a rule needs a condition (the default action covers the rest)")
	}
	wildcards := 0
	for j, h := range c.Host {
		if !hostPatRE.MatchString(h) {
			v.add(p.Field("host").Index(j, ""), "a host name up to 128 chars, with '*' and '?' wildcards", "%q is not a host pattern", h)
		}
		wildcards += strings.Count(h, "*") + strings.Count(h, "?")
	}
	for j, s := range c.Path {
		if s == "" || (s[0] != '/' && s[0] != '*') || len(s) > 128 {
			v.add(p.Field("path").Index(j, ""), "starts with '/' or '*', up to 128 chars", "%q is not a path pattern", s)
		}
		wildcards += strings.Count(s, "*") + strings.Count(s, "?")
	}
	for j, h := range c.Headers {
		hp := p.Field("headers").Index(j, h.Name)
		if !headerNameRE.MatchString(h.Name) {
			v.add(hp.Field("name"), "an HTTP header name, no wildcards", "%q is not a header name", h.Name)
		}
		if len(h.Values) == 0 {
			v.add(hp.Field("values"), "one or more values", "is empty")
		}
	}
	for j, m := range c.Methods {
		if !methodRE.MatchString(m) {
			v.add(p.Field("methods").Index(j, ""), "an upper-case method such as GET", "%q is not an HTTP method", m)
		}
	}
	for j, q := range c.Query {
		if q.Value == "" {
			v.add(p.Field("query").Index(j, "").Field("value"), "a value, with '*' and '?' wildcards", "is required")
		}
	}
	if c.GRPC != nil && c.GRPC.Service == "" {
		v.add(p.Field("grpc").Field("service"), "a fully qualified service such as helloworld.Greeter", "is required")
	}
	if wildcards > 5 {
		v.add(p, "at most 5 wildcards per rule, as ALB", "has %d wildcards", wildcards)
	}
}

// compatible reports whether a listener of protocol l may forward to a group of protocol g.
func compatible(l, g Protocol) bool {
	switch l {
	case ProtoHTTP, ProtoHTTPS:
		return g.IsL7()
	case ProtoTCP, ProtoTLS, ProtoTLSPassthrough:
		return g == ProtoTCP || g == ProtoTLS
	case ProtoUDP:
		return g == ProtoUDP
	}
	return false
}

func (v *validator) action(p Path, a *Action, proto Protocol) {
	n := 0
	for _, set := range []bool{a.Forward != nil, a.Redirect != nil, a.FixedResponse != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		v.add(p, "exactly one of forward, redirect and fixed_response", "sets %d actions", n)
		return
	}
	if !proto.IsL7() && a.Forward == nil {
		v.add(p, "forward", "%s listener can only forward", article(proto))
		return
	}
	switch {
	case a.Forward != nil:
		v.forward(p.Field("forward"), a.Forward, proto)
	case a.Redirect != nil:
		v.redirect(p.Field("redirect"), a.Redirect)
	default:
		f := a.FixedResponse
		fp := p.Field("fixed_response")
		v.intRange(fp.Field("status"), f.Status, 200, 599)
		if !enumOK(f.ContentType, ContentType("").Values()) {
			v.add(fp.Field("content_type"), join(ContentType("").Values()), "%q is not a content type", f.ContentType)
		}
		if len(f.Body) > 1024 {
			v.add(fp.Field("body"), "up to 1024 bytes", "is %d bytes", len(f.Body))
		}
	}
}

func (v *validator) forward(p Path, f *Forward, proto Protocol) {
	max := 5
	if !proto.IsL7() {
		max = 1
	}
	if n := len(f.TargetGroups); n == 0 || n > max {
		v.add(p.Field("target_groups"), "1–"+strconv.Itoa(max)+" target groups", "names %d", n)
	}
	for j, w := range f.TargetGroups {
		wp := p.Field("target_groups").Index(j, w.Name)
		tg := v.groups[w.Name]
		if tg == nil {
			v.add(wp.Field("name"), v.known("target groups", keys(v.groups)), "target group %q is not defined", w.Name)
		} else if tg.Protocol != "" && proto != "" && !compatible(proto, tg.Protocol) {
			v.add(wp.Field("name"), "a target group whose protocol suits a "+string(proto)+" listener", "target group %q speaks %s", w.Name, tg.Protocol)
		}
		v.intRange(wp.Field("weight"), *w.Weight, 0, 999)
	}
	if f.Stickiness != 0 {
		v.duration(p.Field("stickiness"), f.Stickiness, time.Second, 7*24*time.Hour)
	}
}

func (v *validator) redirect(p Path, r *Redirect) {
	if r.Status != 301 && r.Status != 302 {
		v.add(p.Field("status"), "301 or 302", "%d is not a redirect status", r.Status)
	}
	keeps := func(s, placeholder string) bool { return s == "" || strings.EqualFold(s, placeholder) }
	if keeps(r.Protocol, "#{protocol}") && keeps(r.Host, "#{host}") && keeps(r.Port, "#{port}") &&
		keeps(r.Path, "/#{path}") && (r.Query == nil || *r.Query == "#{query}") {
		v.add(p, "at least one of protocol, host, port, path and query", "a redirect to the same URL would loop")
	}
	switch strings.ToLower(r.Protocol) {
	case "", "http", "https", "#{protocol}":
	default:
		v.add(p.Field("protocol"), "http, https or #{protocol}", "%q is not a protocol", r.Protocol)
	}
	if r.Port != "" && r.Port != "#{port}" {
		if n, err := strconv.Atoi(r.Port); err != nil || n < 1 || n > 65535 {
			v.add(p.Field("port"), "1–65535 or #{port}", "%q is not a port", r.Port)
		}
	}
	if len(r.Host) > 128 {
		v.add(p.Field("host"), "up to 128 chars", "is %d chars", len(r.Host))
	}
	if r.Path != "" && (r.Path[0] != '/' || len(r.Path) > 128) {
		v.add(p.Field("path"), "starts with '/', up to 128 chars", "%q is not a path", r.Path)
	}
	if r.Query != nil && len(*r.Query) > 128 {
		v.add(p.Field("query"), "up to 128 chars", "is %d chars", len(*r.Query))
	}
}

func (v *validator) zonalShifts(base Path) {
	shifted := map[string]Path{}
	for i, s := range v.s.ZonalShifts {
		p := base.Index(i, "")
		var zones []string
		var key string
		switch {
		case (s.LoadBalancer == "") == (s.TargetGroup == ""):
			v.add(p, "exactly one of load_balancer and target_group", "a zonal shift moves one resource")
			continue
		case s.LoadBalancer != "":
			key = "load balancer " + s.LoadBalancer
			lb := v.balancers[s.LoadBalancer]
			if lb == nil {
				v.add(p.Field("load_balancer"), v.known("load balancers", keys(v.balancers)), "load balancer %q is not defined", s.LoadBalancer)
				continue
			}
			for _, n := range lb.Nodes {
				zones = append(zones, n.Zone)
			}
		default:
			key = "target group " + s.TargetGroup
			tg := v.groups[s.TargetGroup]
			if tg == nil {
				v.add(p.Field("target_group"), v.known("target groups", keys(v.groups)), "target group %q is not defined", s.TargetGroup)
				continue
			}
			for _, t := range tg.Targets {
				zones = append(zones, t.Zone)
			}
		}
		if first, dup := shifted[key]; dup {
			v.add(p, "one shift per resource, as ARC", "%s is already shifted at %s", key, first)
		}
		shifted[key] = p
		v.zoneRef(p.Field("away_from"), s.AwayFrom)
		if v.zones[s.AwayFrom] != nil && !slices.Contains(zones, s.AwayFrom) {
			v.add(p.Field("away_from"), "a zone the "+key+" is in", "%s has nothing in zone %q", key, s.AwayFrom)
		}
		if s.ExpiresAt.IsZero() {
			v.add(p.Field("expires_at"), "an RFC 3339 time such as 2026-01-02T15:04:05Z", "is required")
		}
	}
}
