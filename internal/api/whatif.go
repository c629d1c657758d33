package api

import (
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/httpproxy"
	"github.com/switchboard/switchboard/internal/model"
)

// What-if queries against the live view:
//
//	GET /api/v1/answer?name=www.example.com&type=A&client=192.0.2.1   (client may be a network, 192.0.2.0/24)
//	GET /api/v1/route?load_balancer=web&port=80&host=…&path=…&method=…&source=…&header=Name:Value&query=k=v&zone=a
//
// The route query matches with the L7 proxy's own rule table
// (httpproxy.Route), so its semantics are the proxy's: query conditions
// compare the raw query string, gRPC conditions need a header
// Content-Type:application/grpc.

// DNSAnswer is what DNS would answer.
type DNSAnswer struct {
	Version uint64   `json:"view_version"`
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Client  string   `json:"client"`
	Rcode   string   `json:"rcode"`
	Answer  []Record `json:"answer"`
	// Authority holds the SOA of a negative answer or the NS of a referral.
	Authority []Record `json:"authority,omitempty"`
}

// Record is one resource record of an answer.
type Record struct {
	Name  string `json:"name"`
	Type  string `json:"type"`
	TTL   uint32 `json:"ttl"`
	Value string `json:"value"`
}

func records(rrs []dns.RR) []Record {
	out := []Record{}
	for _, rr := range rrs {
		h := rr.Header()
		val := strings.TrimPrefix(rr.String(), h.String())
		out = append(out, Record{h.Name, dns.TypeToString[h.Rrtype], h.Ttl, val})
	}
	return out
}

func (a *API) answer(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		return badRequest("name", "name the domain name to ask for")
	}
	typ := strings.ToUpper(q.Get("type"))
	if typ == "" {
		typ = "A"
	}
	qtype, ok := dns.StringToType[typ]
	if !ok {
		return badRequest("type", "%q is not a DNS record type", typ)
	}
	from := netip.PrefixFrom(netip.IPv4Unspecified(), 0)
	if c := q.Get("client"); c != "" {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			addr, aerr := netip.ParseAddr(c)
			if aerr != nil {
				return badRequest("client", "%q is not an address or network", c)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
		}
		from = p
	}
	v, err := a.liveView()
	if err != nil {
		return err
	}
	m, err := dnsserver.TestAnswer(v, a.cfg.LoadBalancerTTL, a.cfg.Locator, name, qtype, from)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, DNSAnswer{
		Version: v.Version, Name: dns.Fqdn(name), Type: typ, Client: from.String(),
		Rcode: dns.RcodeToString[m.Rcode], Answer: records(m.Answer), Authority: records(m.Ns),
	})
}

// RouteAnswer is where an HTTP request would go.
type RouteAnswer struct {
	Version      uint64 `json:"view_version"`
	LoadBalancer string `json:"load_balancer"`
	Port         int    `json:"port"`
	// Rule is the priority of the matching rule, 0 for the default action.
	Rule int `json:"rule"`
	// Action is forward, redirect or fixed_response.
	Action        string               `json:"action"`
	Redirect      *model.Redirect      `json:"redirect,omitempty"`
	FixedResponse *model.FixedResponse `json:"fixed_response,omitempty"`
	TargetGroups  []RouteGroup         `json:"target_groups,omitempty"`
}

// RouteGroup is a target group of a forward action and the targets a node
// in the asked zone sends new requests to.
type RouteGroup struct {
	Name        string   `json:"name"`
	Weight      int      `json:"weight"`
	Targets     []string `json:"targets"`
	FailingOpen bool     `json:"failing_open,omitempty"`
}

func (a *API) route(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	v, err := a.liveView()
	if err != nil {
		return err
	}
	lbName := q.Get("load_balancer")
	lb := v.LoadBalancers[lbName]
	if lb == nil {
		return notFound("load balancer %q does not exist in view version %d", lbName, v.Version)
	}
	var l *model.Listener
	if p := q.Get("port"); p != "" {
		port, err := strconv.Atoi(p)
		if err != nil {
			return badRequest("port", "%q is not a port", p)
		}
		for i := range lb.Spec.Listeners {
			if lb.Spec.Listeners[i].Port == port {
				l = &lb.Spec.Listeners[i]
			}
		}
		if l == nil {
			return notFound("load balancer %s has no listener on port %d", lbName, port)
		}
	} else {
		if len(lb.Spec.Listeners) != 1 {
			return badRequest("port", "load balancer %s has %d listeners; name the port", lbName, len(lb.Spec.Listeners))
		}
		l = &lb.Spec.Listeners[0]
	}
	path := q.Get("path")
	if path == "" {
		path = "/"
	}
	req := &http.Request{Method: q.Get("method"), Host: q.Get("host"), Header: http.Header{},
		URL: &url.URL{Path: path, RawQuery: q.Get("query")}}
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	for _, h := range q["header"] {
		k, val, ok := strings.Cut(h, ":")
		if !ok {
			return badRequest("header", "%q is not Name:Value", h)
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(val))
	}
	if _, err := url.ParseQuery(req.URL.RawQuery); err != nil {
		return badRequest("query", "%q is not a query string: %v", req.URL.RawQuery, err)
	}
	var src netip.Addr
	if s := q.Get("source"); s != "" {
		if src, err = netip.ParseAddr(s); err != nil {
			return badRequest("source", "%q is not an IP address", s)
		}
	}
	out := RouteAnswer{Version: v.Version, LoadBalancer: lbName, Port: l.Port}
	// The proxy's own matcher, so that this answer and the proxy agree.
	res := httpproxy.Route(lbName, l, req, src)
	out.Rule = res.Priority
	action := res.Action
	switch {
	case action.Redirect != nil:
		out.Action, out.Redirect = "redirect", action.Redirect
	case action.FixedResponse != nil:
		out.Action, out.FixedResponse = "fixed_response", action.FixedResponse
	case action.Forward != nil:
		out.Action = "forward"
		for _, wg := range action.Forward.TargetGroups {
			rg := RouteGroup{Name: wg.Name, Weight: 1, Targets: []string{}}
			if wg.Weight != nil {
				rg.Weight = *wg.Weight
			}
			if g := v.TargetGroups[wg.Name]; g != nil {
				ts, open := g.RoutableFrom(q.Get("zone"))
				rg.FailingOpen = open
				for _, t := range ts {
					rg.Targets = append(rg.Targets, t.Addr.String())
				}
			}
			out.TargetGroups = append(out.TargetGroups, rg)
		}
	}
	return writeJSON(w, http.StatusOK, out)
}
