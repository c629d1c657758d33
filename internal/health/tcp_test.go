package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// Timeouts of the tests: long enough for a probe that should succeed never
// to time out on a loaded machine under -race, and short enough for a probe
// that must time out to keep the package fast.
const (
	probeOKTimeout   = 10 * time.Second
	probeFailTimeout = 200 * time.Millisecond
)

// activeProbe is a validated, defaulted probe of type typ with probeOKTimeout,
// as SetDefaults would leave it.
func activeProbe(typ model.CheckType) *model.Probe {
	p := &model.Probe{
		Type:               typ,
		Interval:           model.Duration(30 * time.Second),
		Timeout:            model.Duration(probeOKTimeout),
		ConnectTimeout:     model.Duration(probeOKTimeout),
		HealthyThreshold:   3,
		UnhealthyThreshold: 3,
	}
	if typ == model.CheckHTTP || typ == model.CheckHTTPS {
		p.Path, p.Method, p.ExpectedStatus = "/", "GET", model.DefaultExpectedStatus
	}
	return p
}

// wantResult is what a test expects of a Result: Healthy, and a Reason
// equal to reason or, when re is set instead, matching re in full.
type wantResult struct {
	healthy bool
	reason  string
	re      string
}

func (w wantResult) String() string {
	r := strconv.Quote(w.reason)
	if w.re != "" {
		r = "/" + w.re + "/"
	}
	return "{healthy=" + strconv.FormatBool(w.healthy) + " " + r + "}"
}

func showResult(r Result) string {
	return "{healthy=" + strconv.FormatBool(r.Healthy) + " " + strconv.Quote(r.Reason) + " in " + r.Latency.String() + "}"
}

// expectResult reports a Result of Check(name) that is not w, or that has no
// latency.
func expectResult(t *testing.T, name string, got Result, w wantResult) {
	t.Helper()
	ok := got.Healthy == w.healthy && got.Reason == w.reason
	if w.re != "" {
		ok = got.Healthy == w.healthy && regexp.MustCompile("^(?:"+w.re+")$").MatchString(got.Reason)
	}
	if !ok {
		t.Errorf("Check(%s) = %s, want %s", name, showResult(got), w)
	}
	if got.Latency <= 0 {
		t.Errorf("Check(%s) = %s, want a positive latency", name, showResult(got))
	}
}

// targetAt is the Target of a "host:port" address.
func targetAt(t *testing.T, addr string) Target {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return Target{Host: host, Port: n}
}

// refusedTarget is a loopback target where nothing listens: a port that was just
// free.
func refusedTarget(t *testing.T) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tg := targetAt(t, ln.Addr().String())
	ln.Close()
	return tg
}

// unansweredTarget is a loopback target whose connects hang: a listener whose
// accept queue is cut to one connection (listen(2) again with backlog 0,
// which Linux allows) and already full, so that the kernel drops further
// SYNs. This is the one way to make a connect time out without leaving the
// machine or needing root. It skips where the trick does not work.
func unansweredTarget(t *testing.T) Target {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("needs Linux's accept-queue overflow (SYNs dropped) to make a loopback connect hang")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	rc, err := ln.(*net.TCPListener).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = relisten(syscall.Listen, fd) }); err != nil {
		t.Fatal(err)
	}
	if lerr != nil {
		t.Skipf("listen with backlog 0: %v", lerr)
	}
	for range 8 {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 100*time.Millisecond)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
			return targetAt(t, ln.Addr().String())
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("a full accept queue did not make connects hang")
	return Target{}
}

// relisten calls listen(fd, 0). It is generic only because a socket is an
// int on Unix and a Handle on Windows, so that the file compiles everywhere.
func relisten[FD ~int | ~uintptr](listen func(FD, int) error, fd uintptr) error {
	return listen(FD(fd), 0)
}

func TestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int32
	acceptDone := make(chan struct{})
	go func() { // ends when ln is closed
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	defer func() { ln.Close(); <-acceptDone }()
	open := targetAt(t, ln.Addr().String())

	for _, tt := range []struct {
		name    string
		target  func(*testing.T) Target
		ctx     time.Duration // the caller's timeout, if any; -1: canceled
		connect time.Duration // connect timeout; default okTimeout
		want    wantResult
	}{
		{name: "accepted", target: func(*testing.T) Target { return open }, want: wantResult{healthy: true, reason: "connected"}},
		{name: "accepted/by-name", target: func(*testing.T) Target { return Target{Host: "localhost", Port: open.Port} }, want: wantResult{healthy: true, reason: "connected"}},
		{name: "refused", target: refusedTarget, want: wantResult{re: `connect 127\.0\.0\.1:\d+: connection refused`}},
		{name: "connect-timeout", target: unansweredTarget, connect: probeFailTimeout, want: wantResult{reason: "connect timeout after 200ms"}},
		// The reason names what was left of the context's 150 ms when the
		// probe began, a little less on a busy machine.
		{name: "connect-timeout/ctx-shorter", target: unansweredTarget, ctx: 150 * time.Millisecond, want: wantResult{re: `^connect timeout after 1[0-4][0-9]ms$|^connect timeout after 150ms$`}},
		{name: "canceled", target: func(*testing.T) Target { return open }, ctx: -1, want: wantResult{reason: "canceled"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := activeProbe(model.CheckTCP)
			if tt.connect != 0 {
				p.ConnectTimeout = model.Duration(tt.connect)
			}
			c, err := NewTCP(p)
			if err != nil {
				t.Fatalf("NewTCP: %v", err)
			}
			target := tt.target(t)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			switch {
			case tt.ctx < 0:
				cancel()
			case tt.ctx > 0:
				ctx, cancel = context.WithTimeout(ctx, tt.ctx)
				defer cancel()
			}
			expectResult(t, tt.name, c.Check(ctx, target), tt.want)
		})
	}
	if accepted.Load() == 0 {
		t.Errorf("the listener accepted no connection")
	}
}

func TestNewChecker(t *testing.T) {
	for _, tt := range []struct {
		typ     model.CheckType
		want    string // the checker's type
		wantErr string
	}{
		{typ: model.CheckHTTP, want: "*health.HTTP"},
		{typ: model.CheckHTTPS, want: "*health.HTTP"},
		{typ: model.CheckTCP, want: "*health.TCP"},
		{typ: model.CheckGRPC, want: "*health.GRPC"},
		{typ: model.CheckCalculated, wantErr: `health: "calculated" is not an http, https, tcp or grpc probe`},
		{typ: model.CheckMetric, wantErr: `health: "metric" is not an http, https, tcp or grpc probe`},
		{typ: "", wantErr: `health: "" is not an http, https, tcp or grpc probe`},
	} {
		t.Run(string(tt.typ), func(t *testing.T) {
			c, err := NewChecker(activeProbe(tt.typ))
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Errorf("NewChecker(%q) = %T, %v; want error %q", tt.typ, c, err, tt.wantErr)
				}
				return
			}
			if got := fmt.Sprintf("%T", c); err != nil || got != tt.want {
				t.Errorf("NewChecker(%q) = %s, %v; want %s", tt.typ, got, err, tt.want)
			}
		})
	}
	if c, err := NewChecker(nil); err == nil {
		t.Errorf("NewChecker(nil) = %T, nil; want an error", c)
	}
	for _, typ := range []model.CheckType{model.CheckHTTP, model.CheckGRPC} {
		if c, err := NewTCP(activeProbe(typ)); err == nil {
			t.Errorf("NewTCP(%s probe) = %v, nil; want an error", typ, c)
		}
	}
}

// TestConnectErrorReason covers the errors a loopback test cannot cause
// without asking a DNS server.
func TestConnectErrorReason(t *testing.T) {
	for _, tt := range []struct {
		name string
		err  *connectError
		want string
	}{
		{
			name: "no-such-host",
			err: &connectError{addr: "nowhere.example:80", err: &net.OpError{Op: "dial", Net: "tcp",
				Err: &net.DNSError{Err: "no such host", Name: "nowhere.example", IsNotFound: true}}},
			want: "resolve nowhere.example: no such host",
		},
		{
			name: "refused",
			err: &connectError{addr: "192.0.2.1:80", err: &net.OpError{Op: "dial", Net: "tcp",
				Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}},
			want: "connect 192.0.2.1:80: " + syscall.ECONNREFUSED.Error(),
		},
		{
			name: "other",
			err:  &connectError{addr: "192.0.2.1:80", err: errors.New("no route")},
			want: "connect 192.0.2.1:80: no route",
		},
		{
			name: "tls",
			err:  &connectError{addr: "192.0.2.1:443", tls: true, err: errors.New("tls: handshake failure")},
			want: "tls: handshake failure",
		},
		{
			name: "tls/eof",
			err:  &connectError{addr: "192.0.2.1:443", tls: true, err: io.EOF},
			want: "tls: EOF",
		},
		{
			name: "tls/timeout",
			err:  &connectError{addr: "192.0.2.1:443", tls: true, timedOut: true, after: 1500 * time.Millisecond},
			want: "tls: handshake timeout after 1.5s",
		},
	} {
		if got := tt.err.reason(); got != tt.want {
			t.Errorf("reason(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
