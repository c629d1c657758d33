package httpproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/model"
	"github.com/switchboard/switchboard/internal/testutil/blackhole"
)

// TestConnectTimeout504: a target that does not accept the connection
// within connect_timeout gives the client 504 (as ALB: the target did not
// answer in time), counts as a connect failure for passive health, and
// an idempotent request is retried once on another target instead.
func TestConnectTimeout504(t *testing.T) {
	ap := blackhole.Listen(t)
	hole := model.Target{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}
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
