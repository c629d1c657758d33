package api

import (
	"cmp"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"github.com/switchboard/switchboard/internal/model"
)

// Request is what a listener rule's conditions look at.
type Request struct {
	// Host is the Host header (a port is ignored) or the SNI name.
	Host   string
	Path   string
	Method string
	Header http.Header
	Query  url.Values
	// Source is the client's address (never X-Forwarded-For).
	Source netip.Addr
}

// Match returns the rule of l that req matches first, by priority (lowest
// first), or nil when none does and the default action applies. A rule
// matches when every condition it sets matches; a condition matches when
// any of its values does. It is the ALB rule semantics, small enough that
// the L7 proxy can take it over.
func Match(l *model.Listener, req Request) *model.Rule {
	order := make([]int, len(l.Rules))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(l.Rules[a].Priority, l.Rules[b].Priority) })
	for _, i := range order {
		if matches(&l.Rules[i].Conditions, &req) {
			return &l.Rules[i]
		}
	}
	return nil
}

func matches(c *model.Conditions, r *Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(host, ".")
	if len(c.Host) > 0 && !slices.ContainsFunc(c.Host, func(p string) bool { return glob(strings.ToLower(p), strings.ToLower(host)) }) {
		return false
	}
	if len(c.Path) > 0 && !slices.ContainsFunc(c.Path, func(p string) bool { return glob(p, r.Path) }) {
		return false
	}
	if len(c.Methods) > 0 && !slices.Contains(c.Methods, r.Method) {
		return false
	}
	for _, h := range c.Headers {
		vals := r.Header.Values(h.Name)
		if !slices.ContainsFunc(h.Values, func(p string) bool {
			return slices.ContainsFunc(vals, func(v string) bool { return glob(strings.ToLower(p), strings.ToLower(v)) })
		}) {
			return false
		}
	}
	if len(c.Query) > 0 && !slices.ContainsFunc(c.Query, func(q model.QueryMatch) bool { return queryMatches(q, r.Query) }) {
		return false
	}
	if len(c.SourceCIDRs) > 0 && !slices.ContainsFunc(c.SourceCIDRs, func(p netip.Prefix) bool { return p.Contains(r.Source.Unmap()) }) {
		return false
	}
	if g := c.GRPC; g != nil {
		svc, method, ok := strings.Cut(strings.TrimPrefix(r.Path, "/"), "/")
		if !ok || svc != g.Service || (g.Method != "" && method != g.Method) {
			return false
		}
	}
	return true
}

func queryMatches(q model.QueryMatch, vals url.Values) bool {
	for k, vs := range vals {
		if q.Key != "" && !strings.EqualFold(q.Key, k) {
			continue
		}
		for _, v := range vs {
			if glob(strings.ToLower(q.Value), strings.ToLower(v)) {
				return true
			}
		}
	}
	return false
}

// glob reports whether s matches pattern, where '*' matches any run of
// characters and '?' one character. It backtracks only to the last '*', so
// it runs in O(len(pattern)·len(s)) at worst.
func glob(pattern, s string) bool {
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case star >= 0:
			mark++
			p, i = star+1, mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
