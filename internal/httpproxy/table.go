package httpproxy

import (
	"cmp"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// table is one listener's compiled rules for one view. It is immutable.
type table struct {
	name  string // "balancer:port", for logs
	https bool
	port  int
	// connect and request are the listener's timeouts.
	connect, request time.Duration
	// xfPort and xfProto are X-Forwarded-Port and -Proto, shared read-only.
	xfPort, xfProto []string
	rules           []rule // by priority
	def             rule
}

// rule is a compiled model.Rule; the default action is a rule without
// conditions.
type rule struct {
	name     string // "10" (its priority) or "default"
	hosts    []pattern
	paths    []pattern
	headers  []headerCond
	methods  []string
	query    []queryCond
	cidrs    []netip.Prefix
	grpc     *grpcCond
	forward  *forward
	redirect *redirect
	fixed    *fixed
}

type headerCond struct {
	name   string // canonical
	values []pattern
}

type queryCond struct {
	key   string // "" matches any key
	value pattern
}

type grpcCond struct{ service, method string }

// forward is a compiled forward action.
type forward struct {
	groups  []*group
	weights []int // cumulative
	total   int
	// sticky is the group-stickiness duration; 0 is off. cookie is its name.
	sticky time.Duration
	cookie string
}

// redirect is a compiled redirect action.
type redirect struct {
	status                            int
	protocol, host, port, path, query string
	hasQuery                          bool
}

// fixed is a compiled fixed response.
type fixed struct {
	status      int
	contentType string
	body        []byte
}

// group is what a forward needs of a target group in this view.
type group struct {
	name  string
	bal   *balance.Group
	grpc  bool // speak h2c to the targets
	delay time.Duration
	// Consistent-hash key: at most one is set.
	hashHeader, hashCookie string
	hashSource             bool
	// Target stickiness.
	sticky    model.StickinessType // "", lb_cookie or app_cookie
	stickyTTL time.Duration
	appCookie string // the application's cookie (app_cookie)
	cookie    string // our cookie
	// byHash maps a target's hash (as in our cookies) to its address.
	byHash map[uint64]netip.AddrPort
}

// compileGroups makes a group for every target group of v, bound to the
// registry's balance groups.
func compileGroups(v *view.View, reg *balance.Registry) map[string]*group {
	out := make(map[string]*group, len(v.TargetGroups))
	for name, tg := range v.TargetGroups {
		spec := tg.Spec
		g := &group{name: name, bal: reg.Group(name), grpc: spec.Protocol == model.ProtoGRPC, byHash: map[uint64]netip.AddrPort{}}
		if spec.DeregistrationDelay != nil {
			g.delay = spec.DeregistrationDelay.D()
		}
		if spec.Algorithm == model.ConsistentHash && spec.HashOn != nil {
			g.hashHeader = http.CanonicalHeaderKey(spec.HashOn.Header)
			g.hashCookie = spec.HashOn.Cookie
			g.hashSource = spec.HashOn.SourceIP
		}
		if st := spec.Stickiness; st != nil && (st.Type == model.StickyLBCookie || st.Type == model.StickyAppCookie) {
			g.sticky, g.stickyTTL = st.Type, st.Duration.D()
			if g.stickyTTL <= 0 {
				g.stickyTTL = 24 * time.Hour
			}
			if st.Type == model.StickyLBCookie {
				g.cookie = "swb_tg_" + cookieSafe(name)
			} else {
				g.cookie, g.appCookie = "swb_app_"+cookieSafe(name), st.CookieName
			}
		}
		for _, z := range tg.Zones {
			for _, t := range z.Targets {
				g.byHash[targetHash(t.Addr)] = t.Addr
			}
		}
		out[name] = g
	}
	return out
}

// targetHash names a target in cookies: the same on every node.
func targetHash(a netip.AddrPort) uint64 {
	b := a.Addr().Unmap().As16()
	h := balance.HashBytes(b[:])
	return h ^ uint64(a.Port())*0x9e3779b97f4a7c15
}

// cookieSafe keeps the characters a cookie name may hold.
func cookieSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return '_'
		}
		return r
	}, s)
}

// compileTable compiles listener l of balancer lb.
func compileTable(lb string, l *model.Listener, groups map[string]*group) *table {
	t := &table{name: lb + ":" + strconv.Itoa(l.Port), https: l.Protocol == model.ProtoHTTPS, port: l.Port,
		connect: l.ConnectTimeout.D(), request: l.RequestTimeout.D(),
		xfPort: []string{strconv.Itoa(l.Port)}, xfProto: []string{"http"}}
	if t.https {
		t.xfProto = []string{"https"}
	}
	rules := slices.Clone(l.Rules)
	slices.SortStableFunc(rules, func(a, b model.Rule) int { return cmp.Compare(a.Priority, b.Priority) })
	for i := range rules {
		r := &rules[i]
		c := &r.Conditions
		cr := rule{name: strconv.Itoa(r.Priority), methods: c.Methods, cidrs: c.SourceCIDRs}
		for _, h := range c.Host {
			cr.hosts = append(cr.hosts, compilePattern(h, true))
		}
		for _, p := range c.Path {
			cr.paths = append(cr.paths, compilePattern(p, false))
		}
		for _, h := range c.Headers {
			hc := headerCond{name: http.CanonicalHeaderKey(h.Name)}
			for _, v := range h.Values {
				hc.values = append(hc.values, compilePattern(v, true))
			}
			cr.headers = append(cr.headers, hc)
		}
		for _, q := range c.Query {
			cr.query = append(cr.query, queryCond{key: q.Key, value: compilePattern(q.Value, false)})
		}
		if c.GRPC != nil {
			cr.grpc = &grpcCond{service: c.GRPC.Service, method: c.GRPC.Method}
		}
		compileAction(&cr, &r.Action, groups, t.port)
		t.rules = append(t.rules, cr)
	}
	t.def = rule{name: "default"}
	compileAction(&t.def, &l.DefaultAction, groups, t.port)
	return t
}

func compileAction(r *rule, a *model.Action, groups map[string]*group, port int) {
	switch {
	case a.Forward != nil:
		f := &forward{sticky: a.Forward.Stickiness.D()}
		for _, w := range a.Forward.TargetGroups {
			g := groups[w.Name]
			if g == nil {
				continue // a valid state has no such reference
			}
			wt := 1
			if w.Weight != nil {
				wt = *w.Weight
			}
			f.total += wt
			f.groups = append(f.groups, g)
			f.weights = append(f.weights, f.total)
		}
		if f.sticky > 0 {
			f.cookie = "swb_grp_" + strconv.Itoa(port) + "_" + r.name
		}
		r.forward = f
	case a.Redirect != nil:
		rd := a.Redirect
		out := &redirect{status: rd.Status, protocol: or(rd.Protocol, "#{protocol}"), host: or(rd.Host, "#{host}"),
			port: or(rd.Port, "#{port}"), path: or(rd.Path, "/#{path}"), query: "#{query}", hasQuery: true}
		if rd.Query != nil {
			out.query = *rd.Query
		}
		if out.status == 0 {
			out.status = http.StatusMovedPermanently
		}
		r.redirect = out
	case a.FixedResponse != nil:
		fr := a.FixedResponse
		r.fixed = &fixed{status: fr.Status, contentType: or(string(fr.ContentType), "text/plain"), body: []byte(fr.Body)}
	default:
		r.fixed = &fixed{status: http.StatusNotFound, contentType: "text/plain", body: []byte("no action\n")}
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// match returns the first rule whose conditions all hold for r, or the
// default. host is r's host without port; src the client's address.
func (t *table) match(r *http.Request, host string, src netip.Addr) *rule {
	for i := range t.rules {
		if t.rules[i].matches(r, host, src) {
			return &t.rules[i]
		}
	}
	return &t.def
}

func (ru *rule) matches(r *http.Request, host string, src netip.Addr) bool {
	if len(ru.methods) > 0 && !slices.Contains(ru.methods, r.Method) {
		return false
	}
	if len(ru.hosts) > 0 && !anyMatch(ru.hosts, host) {
		return false
	}
	if len(ru.paths) > 0 && !anyMatch(ru.paths, r.URL.Path) {
		return false
	}
	for i := range ru.headers {
		hc := &ru.headers[i]
		ok := false
		for _, v := range r.Header[hc.name] {
			if anyMatch(hc.values, v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if len(ru.query) > 0 && !queryMatches(ru.query, r.URL.RawQuery) {
		return false
	}
	if len(ru.cidrs) > 0 {
		ok := false
		for _, p := range ru.cidrs {
			if p.Contains(src) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	if ru.grpc != nil && !ru.grpc.matches(r) {
		return false
	}
	return true
}

func anyMatch(ps []pattern, s string) bool {
	for i := range ps {
		if ps[i].match(s) {
			return true
		}
	}
	return false
}

// queryMatches reports whether any condition matches some key=value pair
// of the raw query (any of the conditions, as ALB's values list).
func queryMatches(conds []queryCond, raw string) bool {
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		for i := range conds {
			c := &conds[i]
			if (c.key == "" || c.key == k) && c.value.match(v) {
				return true
			}
		}
	}
	return false
}

func (g *grpcCond) matches(r *http.Request) bool {
	ct := r.Header["Content-Type"]
	if len(ct) == 0 || !strings.HasPrefix(ct[0], "application/grpc") {
		return false
	}
	p := r.URL.Path
	if len(p) < 2 || p[0] != '/' {
		return false
	}
	svc, method, ok := strings.Cut(p[1:], "/")
	if !ok || svc != g.service {
		return false
	}
	return g.method == "" || method == g.method
}

// hostOnly strips the port from a Host header value.
func hostOnly(h string) string {
	if h == "" {
		return h
	}
	if h[0] == '[' {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[1:i]
		}
		return h
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.IndexByte(h, ':') == i {
		return h[:i]
	}
	return h
}
