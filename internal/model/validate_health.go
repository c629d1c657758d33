package model

import (
	"net/netip"
	"net/url"
	"regexp"
	"time"
)

const (
	minInterval = 100 * time.Millisecond
	maxInterval = 300 * time.Second
)

var methodRE = regexp.MustCompile(`^[A-Z]{1,20}$`)

func (v *validator) healthChecks(base Path) {
	for i := range v.s.HealthChecks {
		hc := &v.s.HealthChecks[i]
		p := base.Index(i, hc.Name)
		if hc.Type != CheckMetric && (hc.Prometheus != nil || hc.InsufficientData != "") {
			v.add(p, "prometheus and insufficient_data only on metric checks", "%s check has metric settings", article(hc.Type))
		}
		if !enumOK(hc.InitialState, HealthState("").Values()) {
			v.add(p.Field("initial_state"), "healthy or unhealthy", "%q is not a health state", hc.InitialState)
		}
		switch {
		case hc.Type == "":
			v.add(p.Field("type"), "one of "+join(CheckType("").Values()), "is required")
		case hc.Type == CheckCalculated:
			v.calculated(p, hc)
		case hc.Type == CheckMetric:
			if hc.Expression == "" {
				v.add(p.Field("expression"), `an expression such as rate(x[1m]) > 0.05`, "a metric check needs an expression")
			}
			v.notFor(p, hc, "metric")
			v.metric(p, hc)
		default:
			v.endpoint(p, hc)
			v.probe(p, &hc.Probe, true)
		}
	}
	v.calculatedCycles(base)
}

// endpoint checks the address of a probing health check.
func (v *validator) endpoint(p Path, hc *HealthCheck) {
	if hc.Address == "" {
		v.add(p.Field("address"), "an IP address or host name", "%s check needs an address", article(hc.Type))
	} else if _, err := netip.ParseAddr(hc.Address); err != nil {
		if msg := checkDNSName(hc.Address, false); msg != "" {
			v.add(p.Field("address"), "an IP address or host name", "%q is neither an IP address nor a host name: it %s", hc.Address, msg)
		}
	}
	if len(hc.Children) > 0 {
		v.add(p.Field("children"), "only calculated checks have children", "%s check has children", article(hc.Type))
	}
	if hc.Expression != "" {
		v.add(p.Field("expression"), "only metric checks have an expression", "%s check has an expression", article(hc.Type))
	}
	if hc.HealthThreshold != 0 {
		v.add(p.Field("health_threshold"), "only calculated checks", "%s check has no health_threshold", article(hc.Type))
	}
}

// notFor reports probe fields set on a check that does not probe.
func (v *validator) notFor(p Path, hc *HealthCheck, what string) {
	if hc.Address != "" {
		v.add(p.Field("address"), "only http, https, tcp and grpc checks", "%s check has no address", article(what))
	}
	if hc.Port != 0 {
		v.add(p.Field("port"), "only http, https, tcp and grpc checks", "%s check has no port", article(what))
	}
	if what != "calculated" && len(hc.Children) > 0 {
		v.add(p.Field("children"), "only calculated checks have children", "%s check has no children", article(what))
	}
	if what != "calculated" && hc.HealthThreshold != 0 {
		v.add(p.Field("health_threshold"), "only calculated checks", "%s check has no health_threshold", article(what))
	}
	if what != "metric" && hc.Expression != "" {
		v.add(p.Field("expression"), "only metric checks have an expression", "%s check has no expression", article(what))
	}
}

// probe checks how an endpoint is probed. named is false for target-group
// probes, whose port defaults to the target's.
func (v *validator) probe(p Path, pr *Probe, named bool) {
	if !pr.Type.probes() {
		v.add(p.Field("type"), "http, https, tcp or grpc", "%q cannot probe a target", pr.Type)
		return
	}
	switch {
	case pr.Port != 0:
		v.port(p.Field("port"), pr.Port)
	case named:
		v.add(p.Field("port"), "1–65535", "%s check needs a port", article(pr.Type))
	}
	if v.duration(p.Field("interval"), pr.Interval, minInterval, maxInterval) {
		if pr.Timeout >= pr.Interval {
			v.add(p.Field("timeout"), "shorter than the interval "+pr.Interval.String(), "%s is not shorter than the interval", pr.Timeout)
		}
	}
	if pr.Timeout <= 0 {
		v.add(p.Field("timeout"), "a positive duration shorter than the interval", "%s is not positive", pr.Timeout)
	}
	if pr.ConnectTimeout <= 0 || pr.ConnectTimeout > pr.Timeout {
		v.add(p.Field("connect_timeout"), "a positive duration up to the timeout "+pr.Timeout.String(), "%s is out of range", pr.ConnectTimeout)
	}
	v.intRange(p.Field("healthy_threshold"), pr.HealthyThreshold, 1, 10)
	v.intRange(p.Field("unhealthy_threshold"), pr.UnhealthyThreshold, 1, 10)
	if pr.HealthyCheckerPercent != nil {
		v.intRange(p.Field("healthy_checker_percent"), *pr.HealthyCheckerPercent, 0, 99)
	}

	isHTTP := pr.Type == CheckHTTP || pr.Type == CheckHTTPS
	httpOnly := func(field string, set bool) {
		if set && !isHTTP {
			v.add(p.Field(field), "only http and https checks", "%s check has no %s", article(pr.Type), field)
		}
	}
	httpOnly("path", pr.Path != "")
	httpOnly("method", pr.Method != "")
	httpOnly("expected_status", pr.ExpectedStatus != "")
	httpOnly("search_string", pr.SearchString != "")
	httpOnly("host", pr.Host != "")
	httpOnly("keep_alive", pr.KeepAlive)
	if pr.Type != CheckHTTPS && pr.Type != CheckGRPC {
		if pr.SNI != "" {
			v.add(p.Field("sni"), "only https and grpc checks", "%s check sends no SNI", article(pr.Type))
		}
		if pr.VerifyTLS {
			v.add(p.Field("verify_tls"), "only https and grpc checks", "%s check has no certificate to verify", article(pr.Type))
		}
	}
	if pr.Service != "" && pr.Type != CheckGRPC {
		v.add(p.Field("service"), "only grpc checks", "%s check has no gRPC service", article(pr.Type))
	}
	if !isHTTP {
		return
	}
	if pr.Path == "" || pr.Path[0] != '/' || len(pr.Path) > 1024 {
		v.add(p.Field("path"), "starts with '/', up to 1024 chars", "%q is not a request path", pr.Path)
	}
	if !methodRE.MatchString(pr.Method) {
		v.add(p.Field("method"), "an upper-case method such as GET or HEAD", "%q is not an HTTP method", pr.Method)
	}
	if _, err := ParseStatusRanges(pr.ExpectedStatus); err != nil {
		v.add(p.Field("expected_status"), `codes and ranges of 100–599, such as "200-399" or "200,204"`, "%s", err)
	}
	if len(pr.SearchString) > 255 {
		v.add(p.Field("search_string"), "up to 255 chars", "is %d chars long", len(pr.SearchString))
	}
	if pr.Host != "" && checkDNSName(hostOnly(pr.Host), false) != "" {
		v.add(p.Field("host"), "a host name, optionally with :port", "%q is not a host name", pr.Host)
	}
}

// hostOnly strips a :port from a Host header value.
func hostOnly(h string) string {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i] == ':' {
			return h[:i]
		}
		if h[i] < '0' || h[i] > '9' {
			break
		}
	}
	return h
}

func (v *validator) calculated(p Path, hc *HealthCheck) {
	v.notFor(p, hc, "calculated")
	if len(hc.Children) > 256 {
		v.add(p.Field("children"), "at most 256", "has %d children", len(hc.Children))
	}
	v.intRange(p.Field("health_threshold"), hc.HealthThreshold, 0, 256)
	seen := map[string]bool{}
	for j, c := range hc.Children {
		cp := p.Field("children").Index(j, "")
		switch {
		case c == hc.Name:
			v.add(cp, "other health checks", "a calculated check cannot count itself")
		case v.checks[c] == nil:
			v.add(cp, v.known("health checks", keys(v.checks)), "health check %q is not defined", c)
		case seen[c]:
			v.add(cp, "each child once", "%q is listed twice", c)
		}
		seen[c] = true
	}
}

// calculatedCycles refuses calculated checks that depend on themselves
// through other calculated checks.
func (v *validator) calculatedCycles(base Path) {
	const (
		unvisited = iota
		visiting
		done
	)
	state := map[string]int{}
	var start string
	var visit func(name string) bool // reports a path from name back to start
	visit = func(name string) bool {
		switch state[name] {
		case visiting:
			return name == start
		case done:
			return false
		}
		state[name] = visiting
		hc := v.checks[name]
		if hc != nil {
			for _, c := range hc.Children {
				if c != name && visit(c) {
					return true
				}
			}
		}
		state[name] = done
		return false
	}
	for i, hc := range v.s.HealthChecks {
		if hc.Type != CheckCalculated || v.checks[hc.Name] != &v.s.HealthChecks[i] {
			continue
		}
		clear(state)
		start = hc.Name
		if visit(hc.Name) {
			v.add(base.Index(i, hc.Name).Field("children"), "calculated checks without cycles", "health check %q depends on itself through its children", hc.Name)
		}
	}
}

// metric checks the fields a metric check uses: its schedule and source.
func (v *validator) metric(p Path, hc *HealthCheck) {
	if v.duration(p.Field("interval"), hc.Interval, minInterval, maxInterval) && hc.Timeout >= hc.Interval {
		v.add(p.Field("timeout"), "shorter than the interval "+hc.Interval.String(), "%s is not shorter than the interval", hc.Timeout)
	}
	v.intRange(p.Field("healthy_threshold"), hc.HealthyThreshold, 1, 10)
	v.intRange(p.Field("unhealthy_threshold"), hc.UnhealthyThreshold, 1, 10)
	if !enumOK(hc.InsufficientData, InsufficientData("").Values()) {
		v.add(p.Field("insufficient_data"), join(InsufficientData("").Values()), "%q is not an insufficient-data state", hc.InsufficientData)
	}
	if pr := hc.Prometheus; pr != nil {
		u, err := url.Parse(pr.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p.Field("prometheus").Field("url"), "an http or https URL such as http://127.0.0.1:9090", "%q is not a Prometheus URL", pr.URL)
		}
	}
}
