package health

import (
	"context"
	"net"
	"strconv"
	"time"
)

// Checker probes one kind of endpoint. A Checker is built once from a probe's
// configuration and may be called for many targets, concurrently.
type Checker interface {
	// Check probes t once and says what it saw. It returns when the probe is
	// done or ctx ends (the scheduler gives ctx the probe's timeout); it never
	// panics on a misbehaving endpoint.
	Check(ctx context.Context, t Target) Result
}

// Target is an endpoint to probe.
type Target struct {
	// Host is an IP address or a host name (resolved at each probe, as Route 53 does).
	Host string
	// Port is the TCP port.
	Port int
}

// Addr returns host:port.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Result is one probe's outcome.
type Result struct {
	// Healthy is what the probe concluded, before thresholds and inversion.
	Healthy bool
	// Reason says why, in words a person understands: "connect
	// 127.0.0.1:9001: connection refused", "status 503, want 200-399",
	// "timeout after 2s", "body has no \"ok\" in the first 5120 bytes".
	// For a healthy result it is a short summary such as "status 200".
	Reason string
	// Latency is how long the probe took, to the answer or the failure.
	Latency time.Duration
}
