package l4proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/testutil/blackhole"
)

// pairs returns the connections the Proxy's parkers hold.
func (e *env) pairs() []*pair {
	var out []*pair
	e.p.parkOnce.Do(func() {}) // orders the read of parks after their start
	for _, pk := range e.p.parks {
		pk.mu.Lock()
		for _, c := range pk.pairs {
			out = append(out, c)
		}
		pk.mu.Unlock()
	}
	return out
}

// TestAcceptedSocketsHaveNoDelay: the raw accept loop does not set
// TCP_NODELAY per connection; the listener's setting must be inherited by
// the accepted socket, and the socket to the target sets its own.
func TestAcceptedSocketsHaveNoDelay(t *testing.T) {
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "", b.target("")))
	c := e.dial(10001)
	greeting(t, c)
	ps := e.pairs()
	if len(ps) != 1 {
		t.Fatalf("parkers hold %d connections, want 1", len(ps))
	}
	p := ps[0]
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state != pairEstablished {
		t.Fatalf("connection state %d, want established", p.state)
	}
	for side, name := range []string{"client", "target"} {
		v, err := unix.GetsockoptInt(p.fd[side], unix.IPPROTO_TCP, unix.TCP_NODELAY)
		if err != nil || v == 0 {
			t.Errorf("%s socket TCP_NODELAY = %d, %v; want set", name, v, err)
		}
	}
}

// TestTCPBulkBothWays moves streams of several megabytes both ways at once
// through one connection, so that each direction switches between small
// bursts (recv/send) and bulk ones (splice) and meets full buffers; every
// byte must arrive in order, and the byte counters must add up.
func TestTCPBulkBothWays(t *testing.T) {
	const size = 6 << 20
	up := make([]byte, size)
	for i := range up {
		up[i] = byte(rand.IntN(256))
	}
	down := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	got := make(chan []byte, 1)
	b := newBackendOn(t, "b1", nil, func(c net.Conn) {
		done := make(chan struct{})
		go func() {
			// Small writes, then large ones.
			for off := 0; off < len(down); {
				n := min(len(down)-off, 100+off%70000)
				if _, err := c.Write(down[off : off+n]); err != nil {
					break
				}
				off += n
			}
			c.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		all, _ := io.ReadAll(c)
		got <- all
		<-done
	})
	e := start(t, tcpConfig("", "", b.target("")))
	c := e.dial(10001)
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sent := make(chan error, 1)
	go func() {
		for off := 0; off < len(up); {
			n := min(len(up)-off, 1+off%40000)
			if _, err := c.Write(up[off : off+n]); err != nil {
				sent <- err
				return
			}
			off += n
		}
		sent <- c.CloseWrite()
	}()
	back, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(back, down) {
		t.Fatalf("client read %d bytes (%v), equal %v; want the %d the backend sent", len(back), err, bytes.Equal(back, down), len(down))
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if all := <-got; !bytes.Equal(all, up) {
		t.Fatalf("backend read %d bytes, equal %v; want the %d the client sent", len(all), bytes.Equal(all, up), len(up))
	}
	waitFor(t, "the connection to end", func() bool {
		st := e.p.Stats()
		return len(st.Targets) == 1 && st.Targets[0].Active == 0
	})
	if st := e.p.Stats().Targets[0]; st.BytesIn != size || st.BytesOut != int64(len(down)) {
		t.Errorf("target stats = %+v, want %d bytes in and %d out", st, size, len(down))
	}
}

// TestTCPConnectTimeoutTriesAnother: a target that never answers the
// handshake is given up after the connect timeout (2 s in the harness),
// reported to health, and the connection goes to another target.
func TestTCPConnectTimeoutTriesAnother(t *testing.T) {
	live := newBackend(t, "live")
	hole := blackhole.Listen(t)
	e := start(t, tcpConfig("", "", fmt.Sprintf("{ address: 127.0.0.1, port: %d, zone: a }", hole.Port()), live.target("")))
	start := time.Now()
	for i := range 2 { // round robin: one of the two tries the black hole first
		c := e.dial(10001)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if g := greeting(t, c); g != "live" {
			t.Fatalf("connection %d reached %q, want live", i, g)
		}
		c.Close()
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("both connections served in %v, before the 2s connect timeout: the black hole answered?", d)
	}
	want := fmt.Sprintf("web 127.0.0.1:%d 2", hole.Port()) // health.ConnectFailure
	if !slices.Contains(e.reports.all(), want) {
		t.Errorf("reports = %q, want %q", e.reports.all(), want)
	}
}

// TestAdoptedConnectionIdleTimeout: a connection that began as a net.Conn
// (here: a PROXY header read from the client) and was then handed to the
// parker keeps its idle timeout.
func TestAdoptedConnectionIdleTimeout(t *testing.T) {
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "accept_proxy_protocol: true\nidle_timeout: 400ms", b.target("")))
	c := e.dial(10001)
	io.WriteString(c, "PROXY TCP4 203.0.113.9 198.51.100.1 4000 443\r\n")
	if g := greeting(t, c); g != "b1" {
		t.Fatalf("greeting = %q", g)
	}
	echo(t, c, "before the timeout")
	expectClosed(t, c, 3*time.Second)
}

// TestRefusedConnectionClosesCleanly: with no routable target the accepted
// socket is closed at once (end of stream, not a hang or a reset), and
// the refusal is counted.
func TestRefusedConnectionClosesCleanly(t *testing.T) {
	e := start(t, tcpConfig("", ""))
	c := e.dial(10001)
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	n, err := c.Read(make([]byte, 1))
	if n != 0 || err != io.EOF {
		var errno syscall.Errno // e.g. ECONNRESET for a reset
		errors.As(err, &errno)
		t.Errorf("read on a refused connection = %d, %v (errno %d); want end of stream", n, err, errno)
	}
	waitFor(t, "the refusal to be counted", func() bool {
		st := e.p.Stats()
		return len(st.Listeners) == 1 && st.Listeners[0].Refused == 1 && st.Listeners[0].Active == 0
	})
}

// TestListenerLimitRaisedWhilePaused: a listener at its connection limit
// leaves the parker's epoll set; raising the limit puts it back, and the
// connection waiting in the backlog is served without any other ending.
func TestListenerLimitRaisedWhilePaused(t *testing.T) {
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "max_connections: 1", b.target("")))
	c1 := e.dial(10001)
	greeting(t, c1)
	c2 := e.dial(10001)
	expectOpen(t, c2, 300*time.Millisecond)
	if n := b.accepted.Load(); n != 1 {
		t.Fatalf("backend accepted %d connections at the cap of 1", n)
	}
	e.doc.State.LoadBalancers[0].Listeners[0].MaxConnections = 2
	e.apply()
	if g := greeting(t, c2); g != "b1" {
		t.Errorf("waiting connection after the limit rose greeted %q", g)
	}
	echo(t, c1, "the first is unharmed")
}
