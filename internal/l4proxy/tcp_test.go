package l4proxy

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// tcpConfig is a configuration with one tcp listener on port 10001 that
// forwards to group web with the given targets; extra is added to the group.
func tcpConfig(groupExtra, listenerExtra string, targets ...string) string {
	return fmt.Sprintf(`
zones: [{ name: a }]
target_groups:
  - name: web
    protocol: tcp
    targets: [%s]
%s
load_balancers:
  - name: edge
    listeners:
      - protocol: tcp
        port: 10001
        default_action: { forward: { target_groups: [{ name: web }] } }
%s
`, strings.Join(targets, ", "), indent(groupExtra, 4), indent(listenerExtra, 8))
}

func indent(s string, n int) string {
	if s == "" {
		return ""
	}
	pad := strings.Repeat(" ", n)
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		lines[i] = pad + strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "\n")
}

func count(t *testing.T, e *env, port, n int) map[string]int {
	t.Helper()
	got := map[string]int{}
	for range n {
		c := e.dial(port)
		got[greeting(t, c)]++
		c.Close()
	}
	return got
}

func TestTCPRoundRobin(t *testing.T) {
	b1, b2, b3 := newBackend(t, "b1"), newBackend(t, "b2"), newBackend(t, "b3")
	e := start(t, tcpConfig("", "", b1.target(""), b2.target(""), b3.target("")))
	got := count(t, e, 10001, 30)
	for _, b := range []string{"b1", "b2", "b3"} {
		if got[b] != 10 {
			t.Errorf("round robin over 30 connections = %v, want 10 each", got)
			break
		}
	}
	waitFor(t, "connections to end", func() bool {
		st := e.p.Stats()
		return len(st.Listeners) == 1 && st.Listeners[0].Active == 0 && st.Listeners[0].Total == 30
	})
	for _, ts := range e.p.Stats().Targets {
		if ts.Total != 10 || ts.Active != 0 || ts.BytesOut != 30 {
			t.Errorf("stats of %s = %+v, want 10 connections, none active, 30 bytes out", ts.Target, ts)
		}
	}
}

func TestTCPWeighted(t *testing.T) {
	b1, b2, b3 := newBackend(t, "b1"), newBackend(t, "b2"), newBackend(t, "b3")
	e := start(t, tcpConfig("", "", b1.target(", weight: 1"), b2.target(", weight: 2"), b3.target(", weight: 3")))
	const n = 120
	got := count(t, e, 10001, n)
	for name, w := range map[string]int{"b1": 1, "b2": 2, "b3": 3} {
		want := n * w / 6
		if d := got[name] - want; d < -want/4 || d > want/4 {
			t.Errorf("weighted 1:2:3 over %d connections = %v; %s got %d, want %d±25%%", n, got, name, got[name], want)
		}
	}
}

func TestTCPHalfClose(t *testing.T) {
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "", b.target("")))
	c := e.dial(10001)
	if g := greeting(t, c); g != "b1" {
		t.Fatalf("greeting = %q", g)
	}
	io.WriteString(c, "request")
	// The client is done sending: the backend sees end of stream, and its
	// answer still comes back over the half-open connection.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "request" {
		t.Errorf("after CloseWrite read %q, %v; want the echo then end of stream", rest, err)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "idle_timeout: 400ms", b.target("")))
	idle, busy := e.dial(10001), e.dial(10001)
	greeting(t, idle)
	greeting(t, busy)
	start := time.Now()
	// busy sends every 100 ms for a second: it outlives the timeout.
	for time.Since(start) < time.Second {
		echo(t, busy, "ping")
		time.Sleep(100 * time.Millisecond)
	}
	expectClosed(t, idle, 2*time.Second)
	echo(t, busy, "still here")
	expectClosed(t, busy, 3*time.Second)
}

func TestTCPConnectFailureTriesAnother(t *testing.T) {
	live := newBackend(t, "live")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().(*net.TCPAddr)
	dead.Close() // connections to it are refused
	e := start(t, tcpConfig("", "", live.target(""), fmt.Sprintf("{ address: 127.0.0.1, port: %d, zone: a }", deadAddr.Port)))
	for i := range 6 {
		c := e.dial(10001)
		if g := greeting(t, c); g != "live" {
			t.Fatalf("connection %d reached %q, want live", i, g)
		}
		c.Close()
	}
	reports := e.reports.all()
	want := fmt.Sprintf("web %s 2", deadAddr.AddrPort()) // health.ConnectFailure
	if !slices.Contains(reports, want) {
		t.Errorf("reports = %q, want one %q", reports, want)
	}
	for _, ts := range e.p.Stats().Targets {
		if ts.Target == deadAddr.AddrPort() && (ts.ConnectFailures == 0 || ts.Active != 0) {
			t.Errorf("dead target stats = %+v, want connect failures and nothing active", ts)
		}
	}
}

func TestTCPDeregistrationDrains(t *testing.T) {
	for _, tt := range []struct {
		name        string
		termination string
		wantClosed  bool
	}{
		{name: "termination-on", termination: "true", wantClosed: true},
		{name: "termination-off", termination: "false", wantClosed: false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b1, b2 := newBackend(t, "b1"), newBackend(t, "b2")
			e := start(t, tcpConfig("deregistration_delay: 500ms\nconnection_termination: "+tt.termination, "", b1.target(""), b2.target("")))
			conns := map[string]*net.TCPConn{}
			for range 2 {
				c := e.dial(10001)
				conns[greeting(t, c)] = c
			}
			// Deregister b1: new connections go to b2 only; b1's connection
			// keeps working during the delay.
			e.doc.State.TargetGroups[0].Targets = e.doc.State.TargetGroups[0].Targets[1:]
			deregistered := time.Now()
			e.apply()
			if got := count(t, e, 10001, 4); got["b2"] != 4 {
				t.Errorf("after deregistration connections went to %v, want b2 only", got)
			}
			echo(t, conns["b1"], "during the delay")
			if !tt.wantClosed {
				expectOpen(t, conns["b1"], time.Second)
				echo(t, conns["b1"], "after the delay")
				return
			}
			expectClosed(t, conns["b1"], 3*time.Second)
			echo(t, conns["b2"], "registered target keeps its connection")
			if d := time.Since(deregistered); d < 500*time.Millisecond {
				t.Errorf("connections closed %v after deregistration, before the 500ms delay", d)
			}
		})
	}
}

func TestTCPUnhealthyDraining(t *testing.T) {
	b1, b2 := newBackend(t, "b1"), newBackend(t, "b2")
	e := start(t, tcpConfig("unhealthy_draining: 300ms", "", b1.target(""), b2.target("")))
	c1, c2 := e.dial(10001), e.dial(10001)
	names := map[string]*net.TCPConn{greeting(t, c1): c1, greeting(t, c2): c2}
	e.setHealth("web", b1.ap(), false, time.Now())
	echo(t, names["b1"], "within the draining interval")
	expectClosed(t, names["b1"], 3*time.Second)
	echo(t, names["b2"], "healthy target keeps its connection")
}

func TestTCPOverload(t *testing.T) {
	t.Run("listener-backpressure", func(t *testing.T) {
		b := newBackend(t, "b1")
		e := start(t, tcpConfig("", "max_connections: 2", b.target("")))
		c1, c2 := e.dial(10001), e.dial(10001)
		greeting(t, c1)
		greeting(t, c2)
		// The third waits in the kernel's backlog: connected, not served.
		c3 := e.dial(10001)
		expectOpen(t, c3, 300*time.Millisecond)
		if n := b.accepted.Load(); n != 2 {
			t.Errorf("backend accepted %d connections at the cap of 2", n)
		}
		c1.Close()
		if g := greeting(t, c3); g != "b1" {
			t.Errorf("third connection after one closed greeted %q", g)
		}
	})
	t.Run("target-cap-refuses", func(t *testing.T) {
		b := newBackend(t, "b1")
		e := start(t, tcpConfig("max_connections_per_target: 1", "", b.target("")))
		c1 := e.dial(10001)
		greeting(t, c1)
		c2 := e.dial(10001)
		c2.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := io.Copy(io.Discard, c2)
		if err != nil || n != 0 {
			t.Errorf("connection over the target cap read %d bytes, %v; want a clean close", n, err)
		}
		st := e.p.Stats()
		if len(st.TargetGroups) != 1 || st.TargetGroups[0].Refused != 1 || st.Listeners[0].Refused != 1 {
			t.Errorf("stats = %+v, want one refusal for the group and the listener", st)
		}
		echo(t, c1, "the first is unharmed")
	})
}

// TestIdleConnectionsHoldNoPipe: a spliced connection that is idle holds
// only its two sockets in the proxy, no splice pipe (which would be two
// more descriptors per direction). Counted in /proc/self/fd, where the
// test's clients and backend live too: 4 descriptors per connection.
// Each connection first echoes more than smallBurst, so that it has
// taken a pipe and the test sees whether it gives the pipe back.
func TestIdleConnectionsHoldNoPipe(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd")
	}
	fds := func() int {
		ents, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Fatal(err)
		}
		return len(ents)
	}
	b := newBackend(t, "b1")
	e := start(t, tcpConfig("", "", b.target("")))
	warm := e.dial(10001)
	greeting(t, warm)
	echo(t, warm, strings.Repeat("x", 1<<20)) // let the runtime make its pipes
	before := fds()
	const n = 20
	for range n {
		c := e.dial(10001)
		greeting(t, c)
		// More than smallBurst, so the connection splices and takes a
		// pipe: the test is whether it gives it back when idle.
		echo(t, c, strings.Repeat("y", 256<<10))
	}
	// Pipes the runtime dropped from its pool close when their finalizers run.
	waitFor(t, "dropped pipes to close", func() bool { runtime.GC(); return fds()-before <= 4*n })
	if got := fds() - before; got > 4*n {
		t.Errorf("%d idle connections hold %d descriptors, want at most %d (4 each)", n, got, 4*n)
	}
}

func TestTCPSourceIPStickiness(t *testing.T) {
	b1, b2, b3 := newBackend(t, "b1"), newBackend(t, "b2"), newBackend(t, "b3")
	e := start(t, tcpConfig("stickiness: { type: source_ip }", "", b1.target(""), b2.target(""), b3.target("")))
	got := count(t, e, 10001, 9)
	if len(got) != 1 {
		t.Errorf("one client's connections went to %v, want a single target", got)
	}
	// The remembered target leaves: the client moves, and stays, elsewhere.
	var first string
	for name := range got {
		first = name
	}
	tg := &e.doc.State.TargetGroups[0]
	for i := range tg.Targets {
		if fmt.Sprintf("b%d", i+1) == first { // targets are b1, b2, b3 in order
			tg.Targets = append(tg.Targets[:i:i], tg.Targets[i+1:]...)
			break
		}
	}
	e.apply()
	again := count(t, e, 10001, 6)
	if len(again) != 1 || again[first] != 0 {
		t.Errorf("after %s left, connections went to %v, want one other target", first, again)
	}
}

// TestTCPSmallWritesToSlowReader sends a stream in small writes to a
// client that does not read at first: the parker's inline bursts then meet
// a full send buffer and keep what is left in a buffer until the client's
// socket is writable again. Every byte must arrive, in order.
func TestTCPSmallWritesToSlowReader(t *testing.T) {
	const total, chunk = 8 << 20, 1000
	pattern := func(i int) byte { return byte(i % 251) }
	b := newBackendOn(t, "b1", nil, func(c net.Conn) {
		buf := make([]byte, chunk)
		for off := 0; off < total; off += chunk {
			n := min(chunk, total-off)
			for i := range n {
				buf[i] = pattern(off + i)
			}
			if _, err := c.Write(buf[:n]); err != nil {
				return
			}
		}
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	})
	e := start(t, tcpConfig("", "", b.target("")))
	c := e.dial(10001)
	defer c.Close()
	time.Sleep(300 * time.Millisecond) // let the buffers fill
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read %d bytes, then %v", len(got), err)
	}
	if len(got) != total {
		t.Fatalf("read %d bytes, want %d", len(got), total)
	}
	for i, v := range got {
		if v != pattern(i) {
			t.Fatalf("byte %d = %d, want %d", i, v, pattern(i))
		}
	}
}
