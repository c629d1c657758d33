package l4proxy

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/switchboard/switchboard/internal/certstore"
	"github.com/switchboard/switchboard/internal/model"
)

// listenerSpec is a listener's configuration as the hot path reads it,
// built once per view.
type listenerSpec struct {
	key, lb string
	bind    string
	proto   model.Protocol
	model   model.Listener
	idle    time.Duration
	rules   []rule // by priority
	dflt    string // target group of the default action
	tls     *tls.Config
	certs   []model.Certificate // what tls was built from
	certSet *certstore.Set      // tls's certificates, re-read by sweep when their files change
}

// rule is a tls_passthrough rule: every condition present must match.
type rule struct {
	hosts []string // lowercase
	cidrs []netip.Prefix
	group string
}

func forwardGroup(a model.Action) string {
	if a.Forward == nil || len(a.Forward.TargetGroups) == 0 {
		return ""
	}
	return a.Forward.TargetGroups[0].Name
}

// newSpec builds the spec of listener l of balancer lb; old is the spec it
// replaces (nil for a new listener), whose TLS configuration is kept when
// the certificates are the same.
func (p *Proxy) newSpec(key, lb string, l *model.Listener, old *listenerSpec) (*listenerSpec, error) {
	s := &listenerSpec{
		key: key, lb: lb, bind: p.cfg.Addr(lb, l), proto: l.Protocol, model: *l,
		idle: l.IdleTimeout.D(), dflt: forwardGroup(l.DefaultAction),
	}
	if s.idle <= 0 {
		s.idle = 350 * time.Second
		if l.Protocol == model.ProtoUDP {
			s.idle = 120 * time.Second
		}
	}
	rules := slices.Clone(l.Rules)
	slices.SortFunc(rules, func(a, b model.Rule) int { return a.Priority - b.Priority })
	for _, r := range rules {
		// Lowercased once here, not per connection (the SNI is lowercase).
		hosts := make([]string, len(r.Conditions.Host))
		for i, h := range r.Conditions.Host {
			hosts[i] = strings.ToLower(h)
		}
		s.rules = append(s.rules, rule{hosts: hosts, cidrs: r.Conditions.SourceCIDRs, group: forwardGroup(r.Action)})
	}
	if l.Protocol == model.ProtoTLS {
		if old != nil && old.tls != nil && slices.Equal(old.certs, l.Certificates) {
			s.tls, s.certs, s.certSet = old.tls, old.certs, old.certSet
		} else {
			set, err := certstore.Load(l.Certificates, p.log)
			if err != nil {
				return nil, fmt.Errorf("l4proxy: listener %s: %w", key, err)
			}
			s.certs, s.certSet = slices.Clone(l.Certificates), set
			s.tls = &tls.Config{GetCertificate: set.GetCertificate, MinVersion: tls.VersionTLS12, CipherSuites: certstore.CipherSuites()}
		}
	}
	return s, nil
}

// route returns the target group for a connection from client with server
// name sni ("" when absent).
func (s *listenerSpec) route(sni string, client netip.Addr) string {
	for _, r := range s.rules {
		if r.matches(sni, client) {
			return r.group
		}
	}
	return s.dflt
}

func (r *rule) matches(sni string, client netip.Addr) bool {
	if len(r.hosts) > 0 {
		if sni == "" || !slices.ContainsFunc(r.hosts, func(h string) bool { return matchHost(h, sni) }) {
			return false
		}
	}
	if len(r.cidrs) > 0 {
		c := client.Unmap()
		if !slices.ContainsFunc(r.cidrs, func(p netip.Prefix) bool { return p.Contains(c) }) {
			return false
		}
	}
	return true
}
