package l4proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	pp "github.com/pires/go-proxyproto"

	"github.com/switchboard/switchboard/internal/proxyproto"
)

// udpBackend answers each datagram with "name:payload".
func udpBackend(t *testing.T, name string) *net.UDPConn {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			pc.WriteToUDPAddrPort(append([]byte(name+":"), buf[:n]...), from)
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	return pc
}

func udpConfig(listenerExtra string, backends ...*net.UDPConn) string {
	var ts []string
	for _, b := range backends {
		ts = append(ts, fmt.Sprintf("{ address: 127.0.0.1, port: %d, zone: a }", b.LocalAddr().(*net.UDPAddr).Port))
	}
	return fmt.Sprintf(`
zones: [{ name: a }]
target_groups:
  - { name: dns, protocol: udp, health_check: { type: tcp, port: 1 }, targets: [%s] }
load_balancers:
  - name: edge
    listeners:
      - protocol: udp
        port: 10053
        default_action: { forward: { target_groups: [{ name: dns }] } }
%s
`, strings.Join(ts, ", "), indent(listenerExtra, 8))
}

// udpClient is a connected UDP socket: the kernel drops datagrams from any
// address but the listener's, so every reply checks that replies come from
// the address the client sent to.
func udpClient(t *testing.T, e *env) *net.UDPConn {
	t.Helper()
	c, err := net.Dial("udp", e.addr("udp", 10053))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.UDPConn)
}

// ask sends msg and returns the answering backend's name, "" on no answer
// within wait.
func ask(t *testing.T, c *net.UDPConn, msg string, wait time.Duration) string {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 2048)
	n, err := c.Read(buf)
	if err != nil {
		return ""
	}
	name, payload, _ := strings.Cut(string(buf[:n]), ":")
	if payload != msg {
		t.Fatalf("reply %q carries %q, want %q", buf[:n], payload, msg)
	}
	return name
}

func TestUDPFlows(t *testing.T) {
	b1, b2 := udpBackend(t, "b1"), udpBackend(t, "b2")
	e := start(t, udpConfig("idle_timeout: 300ms", b1, b2))
	c1, c2 := udpClient(t, e), udpClient(t, e)
	first := map[*net.UDPConn]string{}
	for i := range 5 {
		for _, c := range []*net.UDPConn{c1, c2} {
			got := ask(t, c, fmt.Sprintf("query %d", i), 5*time.Second)
			if got == "" {
				t.Fatalf("no answer to query %d", i)
			}
			if first[c] == "" {
				first[c] = got
			} else if got != first[c] {
				t.Fatalf("flow moved from %s to %s", first[c], got)
			}
		}
	}
	if first[c1] == first[c2] {
		t.Errorf("both flows went to %s; round robin should spread two flows", first[c1])
	}
	st := e.p.Stats().Listeners[0]
	if st.Active != 2 || st.Total != 2 {
		t.Errorf("listener stats = %+v, want 2 active flows of 2", st)
	}
	// Idle flows expire after 300 ms; the next datagram starts a new flow.
	waitFor(t, "flows to expire", func() bool { return e.p.Stats().Listeners[0].Active == 0 })
	if got := ask(t, c1, "again", 5*time.Second); got == "" {
		t.Fatal("no answer after the flow expired")
	}
	if st := e.p.Stats().Listeners[0]; st.Total != 3 || st.Active != 1 {
		t.Errorf("after expiry listener stats = %+v, want a third flow", st)
	}
}

func TestUDPFlowTableFull(t *testing.T) {
	b := udpBackend(t, "b1")
	e := start(t, udpConfig("max_flows: 1", b))
	c1, c2 := udpClient(t, e), udpClient(t, e)
	if got := ask(t, c1, "first", 5*time.Second); got != "b1" {
		t.Fatalf("first flow answered by %q", got)
	}
	if got := ask(t, c2, "second", 300*time.Millisecond); got != "" {
		t.Errorf("a flow beyond max_flows was answered by %s", got)
	}
	if got := ask(t, c1, "first again", 5*time.Second); got != "b1" {
		t.Errorf("the existing flow stopped working: %q", got)
	}
	if st := e.p.Stats().Listeners[0]; st.Refused != 1 || st.Active != 1 {
		t.Errorf("listener stats = %+v, want 1 refused datagram and 1 flow", st)
	}
}

func TestUDPDeregistrationEndsFlows(t *testing.T) {
	b1 := udpBackend(t, "b1")
	e := start(t, udpConfig("", b1))
	c := udpClient(t, e)
	if got := ask(t, c, "q", 5*time.Second); got != "b1" {
		t.Fatalf("answered by %q", got)
	}
	e.doc.State.TargetGroups[0].DeregistrationDelay = ptrDur(0)
	e.doc.State.TargetGroups[0].Targets = nil
	e.apply()
	waitFor(t, "the flow to end", func() bool { return e.p.Stats().Listeners[0].Active == 0 })
	if got := ask(t, c, "q", 200*time.Millisecond); got != "" {
		t.Errorf("deregistered target still answered: %s", got)
	}
}

// TestUDPHeaderRoom: the longest header a flow sends (v2, IPv6, no TLVs)
// fits the room readLoop keeps before each datagram.
func TestUDPHeaderRoom(t *testing.T) {
	h := proxyproto.Append(nil, proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Transport: proxyproto.UDP,
		Source: netip.MustParseAddrPort("[2001:db8::1]:1"), Dest: netip.MustParseAddrPort("[2001:db8::2]:2")})
	if len(h) > udpHeaderRoom {
		t.Errorf("an IPv6 UDP header takes %d bytes, more than udpHeaderRoom (%d)", len(h), udpHeaderRoom)
	}
}

// TestUDPProxyProtocol: with proxy_protocol each datagram reaches the
// target behind a v2 header naming the client, read here by an
// independent parser (go-proxyproto), and the payload follows it intact.
func TestUDPProxyProtocol(t *testing.T) {
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			r := bufio.NewReader(bytes.NewReader(buf[:n]))
			reply := "no header"
			if h, err := pp.Read(r); err == nil {
				rest, _ := io.ReadAll(r)
				reply = fmt.Sprintf("v%d %s %s", h.Version, h.SourceAddr, rest)
			}
			pc.WriteToUDPAddrPort([]byte(reply), from)
		}
	})
	t.Cleanup(func() { pc.Close(); wg.Wait() })
	e := start(t, strings.Replace(udpConfig("", pc), "protocol: udp,", "protocol: udp, proxy_protocol: v2,", 1))
	c := udpClient(t, e)
	buf := make([]byte, 2048)
	for _, msg := range []string{"first", "second, on the same flow", strings.Repeat("z", 1400)} {
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no reply to %.10q: %v", msg, err)
		}
		if got, want := string(buf[:n]), fmt.Sprintf("v2 %s %s", c.LocalAddr(), msg); got != want {
			t.Errorf("target read %.60q, want %.60q", got, want)
		}
	}
}
