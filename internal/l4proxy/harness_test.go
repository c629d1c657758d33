package l4proxy

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"maps"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/certstore/certstoretest"
	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/view"
)

// env is a Proxy running a configuration given as YAML, on loopback.
type env struct {
	t       *testing.T
	p       *Proxy
	doc     *model.Document
	reports *recorder

	mu     sync.Mutex
	health map[state.Key]state.Status
	ver    uint64
}

// recorder is a Reporter that remembers every report.
type recorder struct {
	mu   sync.Mutex
	list []string
}

func (r *recorder) Report(group string, target netip.AddrPort, o health.Outcome, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, fmt.Sprintf("%s %s %d", group, target, o))
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.list...)
}

// start parses yaml (a complete configuration), starts a Proxy whose
// listeners bind 127.0.0.1 on free ports, and applies the first view.
// opts change the Proxy's Config before it starts.
func start(t *testing.T, yaml string, opts ...func(*Config)) *env {
	t.Helper()
	doc, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	e := &env{t: t, doc: doc, reports: &recorder{}, health: map[state.Key]state.Status{}}
	cfg := Config{
		Reporter:         e.reports,
		Addr:             func(string, *model.Listener) string { return "127.0.0.1:0" },
		SweepInterval:    20 * time.Millisecond,
		HandshakeTimeout: 2 * time.Second,
		ConnectTimeout:   2 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.p = New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.p.Run(ctx) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer scancel()
		e.p.Shutdown(sctx)
		cancel()
		<-done
	})
	e.apply()
	return e
}

// apply builds a view of the current document and health and applies it.
func (e *env) apply() {
	e.t.Helper()
	e.mu.Lock()
	e.ver++
	hs := state.NewSnapshot(e.ver, maps.Clone(e.health))
	v := view.Build(e.ver, &e.doc.State, hs, time.Now())
	e.mu.Unlock()
	if err := e.p.Apply(v); err != nil {
		e.t.Fatalf("Apply: %v", err)
	}
}

// setHealth marks target of group healthy or not, since the given time.
func (e *env) setHealth(group string, target netip.AddrPort, healthy bool, since time.Time) {
	e.mu.Lock()
	e.health[state.Key{Check: state.GroupCheck(group), Target: target}] = state.Status{Healthy: healthy, Reason: "test", Since: since}
	e.mu.Unlock()
	e.apply()
}

// addr is the bound address of the listener with configured port.
func (e *env) addr(network string, port int) string {
	e.t.Helper()
	a := e.p.Addr("edge", network, port)
	if a == nil {
		e.t.Fatalf("no %s listener on port %d", network, port)
	}
	return a.String()
}

func (e *env) dial(port int) *net.TCPConn {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr("tcp", port))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// backend is a TCP server that greets each connection with its name and a
// newline, then echoes what it reads; at end of stream it half-closes.
type backend struct {
	name     string
	ln       net.Listener
	accepted atomic.Int64
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
	// onConn, when set, serves the connection instead.
	onConn func(net.Conn)
}

func newBackend(t *testing.T, name string) *backend {
	return newBackendOn(t, name, nil, nil)
}

// newBackendOn starts a backend on a listener wrapped by wrap (nil: plain
// TCP); serve replaces the greeting-and-echo behaviour when set.
func newBackendOn(t *testing.T, name string, wrap func(net.Listener) net.Listener, serve func(net.Conn)) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, ln: ln, onConn: serve}
	if wrap != nil {
		b.ln = wrap(ln)
	}
	b.wg.Go(b.loop)
	t.Cleanup(b.close)
	return b
}

func (b *backend) loop() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.accepted.Add(1)
		b.mu.Lock()
		b.conns = append(b.conns, c)
		b.mu.Unlock()
		b.wg.Go(func() {
			defer c.Close()
			if b.onConn != nil {
				b.onConn(c)
				return
			}
			fmt.Fprintf(c, "%s\n", b.name)
			// Through a buffer: io.Copy between TCP connections would splice
			// and hold a pipe per connection, which the descriptor count
			// of TestIdleConnectionsHoldNoPipe must not see.
			io.CopyBuffer(struct{ io.Writer }{c}, struct{ io.Reader }{c}, make([]byte, 32<<10))
			if cw, ok := c.(interface{ CloseWrite() error }); ok {
				cw.CloseWrite()
				io.Copy(io.Discard, c)
			}
		})
	}
}

func (b *backend) close() {
	b.ln.Close()
	b.mu.Lock()
	for _, c := range b.conns {
		c.Close()
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *backend) host() string { return b.ln.Addr().(*net.TCPAddr).IP.String() }
func (b *backend) port() int    { return b.ln.Addr().(*net.TCPAddr).Port }
func (b *backend) ap() netip.AddrPort {
	return b.ln.Addr().(*net.TCPAddr).AddrPort()
}

// target is the YAML of a target at b's address.
func (b *backend) target(extra string) string {
	return fmt.Sprintf("{ address: %s, port: %d, zone: a%s }", b.host(), b.port(), extra)
}

// greeting reads the first line a backend sends through c.
func greeting(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	// Byte by byte, so that nothing after the line is consumed.
	var line []byte
	var b [1]byte
	for {
		if _, err := c.Read(b[:]); err != nil {
			t.Fatalf("reading greeting: %v (got %q)", err, line)
		}
		if b[0] == '\n' {
			break
		}
		line = append(line, b[0])
	}
	c.SetReadDeadline(time.Time{})
	return strings.TrimSpace(string(line))
}

// waitFor polls cond until it holds or 5 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectClosed asserts that c is closed by the other end within d.
func expectClosed(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("connection still open after %v", d)
	}
}

// expectOpen asserts that c is still open: nothing arrives within d.
func expectOpen(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	var b [1]byte
	n, err := c.Read(b[:])
	if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connection read = %d, %v; want it open and silent", n, err)
	}
	c.SetReadDeadline(time.Time{})
}

// echo sends msg through c and checks that it comes back.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo = %q, %v; want %q", got, err, msg)
	}
	c.SetReadDeadline(time.Time{})
}

// cert makes a self-signed certificate for names and writes its PEM files
// to dir; it returns the certificate and the file paths.
func cert(t *testing.T, dir string, names ...string) (tls.Certificate, string, string) {
	t.Helper()
	m := certstoretest.Write(t, dir, strings.ReplaceAll(names[0], "*", "star"), certstoretest.ECDSA, time.Now().UnixNano(), names...)
	c, err := tls.LoadX509KeyPair(m.CertFile, m.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	return c, m.CertFile, m.KeyFile
}

func ptrDur(d time.Duration) *model.Duration { v := model.Duration(d); return &v }
