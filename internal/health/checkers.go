package health

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// Compile-time guards: every active checker is a Checker.
var (
	_ Checker = (*HTTP)(nil)
	_ Checker = (*TCP)(nil)
	_ Checker = (*GRPC)(nil)
)

// NewChecker builds the active checker of p by its type: http and https
// (NewHTTP), tcp (NewTCP) or grpc (NewGRPC). Other types, such as
// calculated and metric, do not probe an endpoint and are refused. p must
// have been validated and defaulted; it is read, not kept.
func NewChecker(p *model.Probe) (Checker, error) {
	if p == nil {
		return nil, errors.New("health: no probe")
	}
	switch p.Type {
	case model.CheckHTTP, model.CheckHTTPS:
		return NewHTTP(p)
	case model.CheckTCP:
		return NewTCP(p)
	case model.CheckGRPC:
		return NewGRPC(p)
	default:
		return nil, fmt.Errorf("health: %q is not an http, https, tcp or grpc probe", p.Type)
	}
}

// probeBudget bounds ctx by the probe's own timeout as well, in case a
// caller gave it none, and says how long the probe has from start: the
// figure a "timeout after …" reason reports.
func probeBudget(ctx context.Context, timeout time.Duration, start time.Time) (context.Context, context.CancelFunc, time.Duration) {
	cancel := context.CancelFunc(func() {})
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, timeout)
	}
	var budget time.Duration
	if dl, ok := ctx.Deadline(); ok {
		budget = dl.Sub(start)
	}
	return ctx, cancel, budget
}

// probeDeadline is when a probe that starts at start must end: after its
// timeout, or at ctx's deadline if that comes first (zero: never); and the
// budget that leaves it, the figure a "timeout after …" reason reports.
// Unlike probeBudget, it arms no timer: a probe that owns its connection
// sets the deadline on the connection.
func probeDeadline(ctx context.Context, timeout time.Duration, start time.Time) (time.Time, time.Duration) {
	var deadline time.Time
	if timeout > 0 {
		deadline = start.Add(timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if deadline.IsZero() {
		return deadline, 0
	}
	return deadline, deadline.Sub(start)
}

// seconds formats d for a reason: rounded to the millisecond, in Go syntax
// ("2s", "1.5s", "250ms"). The rounding hides the microseconds between
// starting a probe and arming its timer.
func seconds(d time.Duration) string {
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return d.String()
}

// Phases of a probe's connection, for blaming a timeout on what it cut short.
const (
	phaseWaiting   int32 = iota // no connection yet, no dial of ours started
	phaseConnect                // TCP connect under way
	phaseTLS                    // TLS handshake under way
	phaseConnected              // connection in hand; waiting for the answer
)

// attempt follows one probe through the transport to the dialer. Go's
// http.Transport dials on a context detached from the request's deadline
// (so that a late connection can serve a later request); the attempt
// carries the probe's context along so that a dial never outlives its probe,
// and records the phase so that a timeout is reported as a connect, TLS or
// response timeout.
type attempt struct {
	ctx   context.Context // the probe's, with its deadline
	phase atomic.Int32
}

type attemptKey struct{}

// withAttempt returns ctx carrying a new attempt for the probe whose context is ctx.
func withAttempt(ctx context.Context) (context.Context, *attempt) {
	a := &attempt{ctx: ctx}
	return context.WithValue(ctx, attemptKey{}, a), a
}

// setPhase records ph on ctx's attempt, if it has one.
func setPhase(ctx context.Context, ph int32) {
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		a.phase.Store(ph)
	}
}

// connectError is a failure to connect to addr, or to complete the TLS
// handshake, within the connect timeout.
type connectError struct {
	addr     string
	tls      bool          // the handshake failed, not the TCP connect
	timedOut bool          // the time ran out…
	after    time.Duration // …after this long
	err      error
}

func (e *connectError) Error() string { return e.reason() }
func (e *connectError) Unwrap() error { return e.err }

// reason says what went wrong in the words of Result.Reason:
// "connect 127.0.0.1:9001: connection refused", "connect timeout after 2s",
// "tls: handshake timeout after 2s", "tls: failed to verify certificate: …".
func (e *connectError) reason() string {
	switch {
	case e.tls && e.timedOut:
		return "tls: handshake timeout after " + seconds(e.after)
	case e.tls:
		// Most crypto/tls errors already say "tls: "; don't say it twice.
		return "tls: " + strings.TrimPrefix(e.err.Error(), "tls: ")
	case e.timedOut:
		return "connect timeout after " + seconds(e.after)
	}
	var dnsErr *net.DNSError
	if errors.As(e.err, &dnsErr) {
		return "resolve " + dnsErr.Name + ": " + dnsErr.Err
	}
	// Strip Go's "dial tcp 127.0.0.1:9001: connect: " down to the cause.
	var sysErr *os.SyscallError
	if errors.As(e.err, &sysErr) {
		return "connect " + e.addr + ": " + sysErr.Err.Error()
	}
	var opErr *net.OpError
	if errors.As(e.err, &opErr) && opErr.Err != nil {
		return "connect " + e.addr + ": " + opErr.Err.Error()
	}
	return "connect " + e.addr + ": " + e.err.Error()
}

// dial connects to addr over TCP and, when cfg is not nil, completes a TLS
// handshake, all within connectTimeout (when positive), ctx, and the probe
// that ctx's attempt belongs to. Failures are *connectError.
func dial(ctx context.Context, addr string, connectTimeout time.Duration, cfg *tls.Config) (net.Conn, error) {
	start := time.Now()
	dctx, cancel := ctx, context.CancelFunc(func() {})
	if connectTimeout > 0 {
		dctx, cancel = context.WithTimeout(ctx, connectTimeout)
	}
	defer cancel()
	if a, ok := ctx.Value(attemptKey{}).(*attempt); ok {
		// A transport's dial: end it with the probe.
		stop := context.AfterFunc(a.ctx, cancel)
		defer stop()
	}
	fail := func(handshake bool, err error) error {
		after := time.Since(start)
		if dl, ok := dctx.Deadline(); ok {
			after = max(dl.Sub(start), 0)
		}
		return connectFailure(dctx, addr, handshake, after, err)
	}

	setPhase(ctx, phaseConnect)
	// TCP keep-alive is for connections that outlive a probe; setting it up
	// costs four system calls.
	d := net.Dialer{KeepAlive: -1}
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fail(false, err)
	}
	if cfg == nil {
		return conn, nil
	}
	setPhase(ctx, phaseTLS)
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(dctx); err != nil {
		conn.Close()
		return nil, fail(true, err)
	}
	return tc, nil
}

// connectFailure is the *connectError of err, which ended a TCP connect
// (or, if handshake, a TLS handshake) to addr bounded by ctx. after is the
// time it had, which a timeout reports.
func connectFailure(ctx context.Context, addr string, handshake bool, after time.Duration, err error) error {
	e := &connectError{addr: addr, tls: handshake, err: err}
	// The socket's deadline may fire a moment before ctx's timer.
	ne, isNetErr := errors.AsType[net.Error](err)
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || isNetErr && ne.Timeout() {
		e.timedOut, e.after = true, after
	}
	return e
}

// failure turns the error of a probe into a Result.Reason. ctx is the
// probe's context, a its attempt (nil for a bare dial) and budget the time
// the probe had. what names the step for other errors ("reading body").
func failure(ctx context.Context, a *attempt, budget time.Duration, what string, err error) string {
	if errors.Is(ctx.Err(), context.Canceled) {
		return "canceled"
	}
	// A dial that the probe's end cut short has no timeout of its own; the
	// phase it reached tells what ran out of time.
	var ce *connectError
	if errors.As(err, &ce) && (ce.timedOut || ctx.Err() == nil) {
		return ce.reason()
	}
	if ctx.Err() != nil {
		phase := phaseConnect // a bare dial
		if a != nil {
			phase = a.phase.Load()
		}
		switch phase {
		case phaseWaiting, phaseConnect:
			return "connect timeout after " + seconds(budget)
		case phaseTLS:
			return "tls: handshake timeout after " + seconds(budget)
		}
		return "timeout after " + seconds(budget)
	}
	return what + ": " + err.Error()
}

// tlsConfig is the client configuration of a probe that speaks TLS to
// targetHost. serverName is the configured SNI or "" for the target's own
// name; verify checks the certificate against roots (nil: the system's).
func tlsConfig(serverName, targetHost string, verify bool, roots *x509.CertPool, nextProto string) *tls.Config {
	if serverName == "" {
		// crypto/tls sends no SNI for an IP address but verifies the
		// certificate's IP SANs against it, which is what we want.
		serverName = targetHost
	}
	cfg := &tls.Config{ServerName: serverName, NextProtos: []string{nextProto}}
	if verify {
		cfg.MinVersion = tls.VersionTLS12
		cfg.RootCAs = roots
		return cfg
	}
	// As Route 53: no verification, and TLS 1.0 and up, with every cipher
	// suite Go has (Go's defaults leave out RSA key exchange, which old
	// endpoints still need). Nothing secret travels on a health check.
	cfg.InsecureSkipVerify = true
	if nextProto == "h2" {
		// HTTP/2 needs TLS 1.2 and forbids the weak suites (RFC 9113 §9.2).
		cfg.MinVersion = tls.VersionTLS12
		return cfg
	}
	cfg.MinVersion = tls.VersionTLS10
	for _, s := range tls.CipherSuites() {
		cfg.CipherSuites = append(cfg.CipherSuites, s.ID)
	}
	return cfg
}
