package health

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// TCP probes an endpoint by opening a TCP connection and closing it again
// (Route 53's and NLB's TCP check). It sends nothing. Safe for concurrent
// use.
type TCP struct {
	// Immutable after NewTCP.
	timeout        time.Duration // whole probe; the caller's ctx may be shorter
	connectTimeout time.Duration
}

// NewTCP builds the checker of a tcp probe. It does no I/O.
func NewTCP(p *model.Probe) (*TCP, error) {
	if p == nil {
		return nil, fmt.Errorf("health: no probe")
	}
	if p.Type != model.CheckTCP {
		return nil, fmt.Errorf("health: a %q probe is not a tcp probe", p.Type)
	}
	return &TCP{timeout: p.Timeout.D(), connectTimeout: p.ConnectTimeout.D()}, nil
}

// Check connects to t within the connect timeout and ctx, then closes the
// connection with a reset. Reasons: "connected", "connect 127.0.0.1:9001:
// connection refused", "connect timeout after 2s", "resolve name: no such
// host", "canceled". Latency is the time to connect.
func (c *TCP) Check(ctx context.Context, t Target) Result {
	start := time.Now()
	ctx, cancel, budget := probeBudget(ctx, c.timeout, start)
	defer cancel()
	conn, err := dial(ctx, t.Addr(), c.connectTimeout, nil)
	latency := time.Since(start)
	if err != nil {
		return Result{Reason: failure(ctx, nil, budget, "connect", err), Latency: latency}
	}
	// Close with a reset (SO_LINGER 0), as haproxy's checks do: an orderly
	// close would leave a socket in TIME_WAIT for every probe.
	if tcp, ok := conn.(*net.TCPConn); ok {
		tcp.SetLinger(0)
	}
	conn.Close()
	return Result{Healthy: true, Reason: "connected", Latency: latency}
}
