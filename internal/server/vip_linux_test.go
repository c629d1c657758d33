//go:build linux

package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/testutil/netns"
)

// vipHelperEnv, when set, makes TestServeOwnsVIPs the server itself: it
// serves the configuration file named there, re-read every 100ms, until
// SIGTERM, logging to stderr.
const vipHelperEnv = "SWITCHBOARD_TEST_SERVE_VIP_CONFIG"

// vipConfig is a balancer with a node in this node's zone (a) and one in
// another (b) on eth0; ADDRS is replaced by zone a's addresses.
const vipConfig = `server:
  admin: { listen: "127.0.0.1:18080" }
  shutdown_timeout: 1s
  zone: a
zones:
  - { name: a }
  - { name: b }
target_groups:
  - name: web
    protocol: tcp
    port: 8080
    targets: [{ address: 10.99.0.5, zone: a }]
load_balancers:
  - name: edge
    nodes:
      - { zone: a, addresses: [ADDRS] }
      - { zone: b, addresses: [10.99.0.200] }
    listeners:
      - protocol: tcp
        port: 80
        default_action: { forward: { target_groups: [{ name: web }] } }
    data_plane: { backend: nft, mode: nat, interface: eth0 }
`

// TestServeOwnsVIPs runs serve under `ip netns exec` in a balancer
// namespace on a LAN with a peer: the zone-a VIP appears on eth0 (the
// zone-b one does not), the peer's stale neighbour entry for it turns to
// the balancer's MAC (the gratuitous ARP arrived), /status lists it held
// and announced; an edited file moves the VIP to another address (added
// and removed live); SIGTERM removes it.
func TestServeOwnsVIPs(t *testing.T) {
	if cfg := os.Getenv(vipHelperEnv); cfg != "" {
		serveHelper(t, cfg, 100*time.Millisecond)
		return
	}
	netns.Require(t)
	netns.RequireCommand(t, "nft")
	lan := netns.NewLAN(t, netip.MustParsePrefix("10.99.0.0/24"), "lb", "peer")
	lb, peer := lan.Host("lb"), lan.Host("peer")
	// A stale entry pointing elsewhere: only an announcement fixes it.
	peer.Exec(t, "ip", "neigh", "replace", "10.99.0.100", "lladdr", "02:00:00:00:00:99", "dev", netns.Iface, "nud", "stale")

	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	write := func(addrs string) {
		t.Helper()
		tmp := cfg + ".tmp"
		if err := os.WriteFile(tmp, []byte(strings.Replace(vipConfig, "ADDRS", addrs, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfg); err != nil {
			t.Fatal(err)
		}
	}
	write("10.99.0.100")
	cmd, out := startServeInNS(t, lb.NS, "TestServeOwnsVIPs", vipHelperEnv, cfg)
	onEth0 := func() string { return lb.Exec(t, "ip", "-o", "-4", "addr", "show", "dev", netns.Iface) }
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting until %s; eth0:\n%s\nserve's output:\n%s", what, onEth0(), out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitFor("10.99.0.100 is on eth0", func() bool { return strings.Contains(onEth0(), "10.99.0.100/32") })
	if strings.Contains(onEth0(), "10.99.0.200") {
		t.Errorf("the zone-b address is on eth0 of a zone-a node:\n%s", onEth0())
	}
	waitFor("the peer's neighbour entry names the balancer", func() bool {
		return strings.Contains(peer.Exec(t, "ip", "neigh", "show", "10.99.0.100", "dev", netns.Iface), lb.MAC.String())
	})

	var st Status
	waitFor("/status shows the VIP held and announced", func() bool {
		st = vipAdminStatus(t, lb)
		return len(st.VIPs) == 1 && st.VIPs[0].Address == "10.99.0.100" && st.VIPs[0].Interface == "eth0" &&
			st.VIPs[0].Held && st.VIPs[0].Announced > 0 && st.VIPs[0].LastAnnounced != "" && st.VIPs[0].Error == ""
	})

	if m := vipAdminGet(lb, "/metrics"); !strings.Contains(m, `switchboard_vip_held{address="10.99.0.100",interface="eth0"} 1`) {
		t.Errorf("/metrics has no switchboard_vip_held 1 for 10.99.0.100 on eth0:\n%s", m)
	}

	write("10.99.0.101")
	waitFor("the VIP moved to 10.99.0.101", func() bool {
		s := onEth0()
		return strings.Contains(s, "10.99.0.101/32") && !strings.Contains(s, "10.99.0.100/")
	})
	waitFor("/status lists only 10.99.0.101", func() bool {
		st = vipAdminStatus(t, lb)
		return len(st.VIPs) == 1 && st.VIPs[0].Address == "10.99.0.101" && st.VIPs[0].Held
	})

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve exited with %v:\n%s", err, out.String())
	}
	if s := onEth0(); strings.Contains(s, "10.99.0.10") {
		t.Errorf("after serve stopped eth0 still has a VIP:\n%s", s)
	}
	if !strings.Contains(out.String(), "vip withdrawn") {
		t.Errorf("serve's log does not say it withdrew the VIP:\n%s", out.String())
	}
}

// vipAdminStatus reads /status of the serve inside h; a zero Status while
// it is not up yet.
func vipAdminStatus(t *testing.T, h *netns.Host) Status {
	t.Helper()
	var st Status
	if body := vipAdminGet(h, "/status"); body != "" {
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatalf("/status: %v", err)
		}
	}
	return st
}

// vipAdminGet returns the body of GET path on the admin listener of the
// serve inside h, connecting from there (it listens on h's loopback), or
// "" when it does not answer yet.
func vipAdminGet(h *netns.Host, path string) string {
	var c net.Conn
	if err := h.Do(func() (err error) {
		c, err = net.DialTimeout("tcp", "127.0.0.1:18080", time.Second)
		return err
	}); err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")); err != nil {
		return ""
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}
