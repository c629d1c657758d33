package l4proxy

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	pp "github.com/pires/go-proxyproto"

	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/proxyproto"
)

// addrBackend reads the PROXY header with an independent parser
// (github.com/pires/go-proxyproto, in tests only) and greets with the
// client address it learned, then echoes.
func addrBackend(t *testing.T) *backend {
	return newBackendOn(t, "", func(ln net.Listener) net.Listener {
		return &pp.Listener{Listener: ln, Policy: func(net.Addr) (pp.Policy, error) { return pp.REQUIRE, nil }}
	}, func(c net.Conn) {
		fmt.Fprintf(c, "%s\n", c.RemoteAddr())
		io.Copy(c, c)
	})
}

func TestProxyProtocolToTargets(t *testing.T) {
	for _, v := range []string{"v1", "v2"} {
		t.Run(v, func(t *testing.T) {
			b := addrBackend(t)
			e := start(t, tcpConfig("proxy_protocol: "+v, "", b.target("")))
			c := e.dial(10001)
			if got, want := greeting(t, c), c.LocalAddr().String(); got != want {
				t.Errorf("target saw client %s, want %s", got, want)
			}
			echo(t, c, "data after the header")
		})
	}
}

// TestProxyProtocolChangeReachesNextConnection: a target group's
// proxy_protocol, changed by Apply, holds for the very next connection,
// not only after the sweep (an hour here) refreshes the target's copy.
// The target parses with an independent parser and says whether a header
// came.
func TestProxyProtocolChangeReachesNextConnection(t *testing.T) {
	b := newBackendOn(t, "", func(ln net.Listener) net.Listener {
		return &pp.Listener{Listener: ln, Policy: func(net.Addr) (pp.Policy, error) { return pp.USE, nil }}
	}, func(c net.Conn) {
		// Without a header the parser decides only once bytes come: the
		// client speaks first, one byte.
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			return
		}
		got := "none"
		if h := c.(*pp.Conn).ProxyHeader(); h != nil {
			got = fmt.Sprintf("v%d", h.Version)
		}
		fmt.Fprintf(c, "%s\n", got)
		io.Copy(c, c)
	})
	e := start(t, tcpConfig("", "", b.target("")), func(c *Config) { c.SweepInterval = time.Hour })
	for _, step := range []struct {
		set  model.ProxyProtocol
		want string
	}{{"", "none"}, {model.ProxyV2, "v2"}, {model.ProxyV1, "v1"}, {"", "none"}} {
		// A new copy of the group: the proxy still reads the one it has.
		e.doc.State.TargetGroups = slices.Clone(e.doc.State.TargetGroups)
		e.doc.State.TargetGroups[0].ProxyProtocol = step.set
		e.apply()
		c := e.dial(10001)
		c.Write([]byte("."))
		if got := greeting(t, c); got != step.want {
			t.Errorf("after proxy_protocol %q the next connection's header: %s, want %s", step.set, got, step.want)
		}
		echo(t, c, "data")
		c.Close()
	}
}

func TestAcceptProxyProtocol(t *testing.T) {
	b := addrBackend(t)
	e := start(t, tcpConfig("proxy_protocol: v1", "accept_proxy_protocol: true", b.target("")))
	upstream := netip.MustParseAddrPort("203.0.113.9:4000")
	vip := netip.MustParseAddrPort("198.51.100.1:443")
	for _, v := range []int{1, 2} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			c := e.dial(10001)
			// The header and the first data in one write: the proxy must
			// pass on what follows the header.
			msg := proxyproto.Append(nil, proxyproto.Header{Version: v, Command: proxyproto.Proxy, Transport: proxyproto.TCP, Source: upstream, Dest: vip})
			c.Write(append(msg, "early"...))
			if got := greeting(t, c); got != upstream.String() {
				t.Errorf("target saw client %s, want the upstream's client %s", got, upstream)
			}
			buf := make([]byte, 5)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "early" {
				t.Errorf("bytes after the header came back as %q, %v", buf, err)
			}
		})
	}
	t.Run("local-keeps-real-address", func(t *testing.T) {
		c := e.dial(10001)
		c.Write(proxyproto.Append(nil, proxyproto.Header{Version: 2, Command: proxyproto.Local}))
		if got, want := greeting(t, c), c.LocalAddr().String(); got != want {
			t.Errorf("target saw client %s after a LOCAL header, want the connection's %s", got, want)
		}
	})
	for i, bad := range []string{
		"hello, no header\r\n",
		"PROXY TCP4 1.2.3.4 nonsense\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
	} {
		t.Run(fmt.Sprintf("refused-%d", i), func(t *testing.T) {
			before := b.accepted.Load()
			c := e.dial(10001)
			c.Write([]byte(bad))
			expectClosed(t, c, 5*time.Second)
			if n := b.accepted.Load(); n != before {
				t.Errorf("a connection with header %q reached the target", bad)
			}
		})
	}
	t.Run("silent-client-times-out", func(t *testing.T) {
		// The handshake timeout is 2s in tests.
		c := e.dial(10001)
		c.Write([]byte("PROXY TCP4 "))
		expectClosed(t, c, 5*time.Second)
	})
	waitFor(t, "refusals counted", func() bool { return e.p.Stats().Listeners[0].Refused == 4 })
}
