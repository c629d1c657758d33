package httpproxy

import (
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
)

// unanswering is a target on loopback that never completes a TCP
// handshake: a socket listening with a backlog of 0 whose one queued
// connection is never accepted, so the kernel drops every further SYN
// and a connect waits until it times out.
func unanswering(t *testing.T) model.Target {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := netip.AddrPortFrom(netip.AddrFrom4(sa.(*syscall.SockaddrInet4).Addr), uint16(sa.(*syscall.SockaddrInet4).Port))
	// Fill the accept queue, then check that the next connect hangs.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr.String(), 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				break
			}
			t.Fatalf("dial %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
		if i == 4 {
			t.Skip("this kernel completes handshakes beyond a full accept queue (syncookies?); no unanswering target")
		}
	}
	return model.Target{Address: addr.Addr(), Port: int(addr.Port()), Zone: "a"}
}

// TestConnectTimeout504: a target that does not accept the connection
// within connect_timeout gives the client 504 (as ALB: the target did not
// answer in time), counts as a connect failure for passive health, and
// an idempotent request is retried once on another target instead.
func TestConnectTimeout504(t *testing.T) {
	hole := unanswering(t)
	live := newBackend(t, "live", nil)
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups = []model.TargetGroup{
			{Name: "hole", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{hole}},
			{Name: "mixed", Protocol: model.ProtoHTTP, Port: 80, Targets: []model.Target{hole, live.target("a")}},
		}
		l := &st.LoadBalancers[0].Listeners[0]
		l.ConnectTimeout = model.Duration(200 * time.Millisecond)
		l.Rules = []model.Rule{{Priority: 1, Conditions: model.Conditions{Path: []string{"/mixed"}},
			Action: model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "mixed"}}}}}}
		l.DefaultAction = model.Action{Forward: &model.Forward{TargetGroups: []model.WeightedTargetGroup{{Name: "hole"}}}}
	})
	resp, body := e.get("/")
	if resp.StatusCode != 504 || !strings.Contains(body, "on our side") {
		t.Errorf("GET / to a target that never accepts = %d %q, want 504 with our error page", resp.StatusCode, body)
	}
	ap := netip.AddrPortFrom(hole.Address, uint16(hole.Port))
	if n := e.rec.count(ap, health.ConnectFailure); n == 0 {
		t.Error("no ConnectFailure reported for the target that never accepted")
	}
	// With a live target beside it, every GET succeeds: one that picked
	// the hole is retried on the live one.
	for i := range 6 {
		if resp, body := e.get("/mixed"); resp.StatusCode != 200 {
			t.Errorf("GET /mixed #%d = %d %q, want 200 (retried on the live target)", i, resp.StatusCode, body)
		}
	}
}
