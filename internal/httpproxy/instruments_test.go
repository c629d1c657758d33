package httpproxy

import (
	"net/http"
	"net/netip"
	"strconv"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

// TestInstruments checks what the metrics hear per target: requests,
// answers by status class, connections opened, and failures from a
// target that refuses.
func TestInstruments(t *testing.T) {
	ok := newBackend(t, "ok", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("fine"))
	})
	e := newEnv(t, "a", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{ok.target("a")} })
	for range 3 {
		if resp, _ := e.get("/"); resp.StatusCode != 200 {
			t.Fatalf("GET / = %d", resp.StatusCode)
		}
	}
	if resp, _ := e.get("/boom"); resp.StatusCode != 503 {
		t.Fatalf("GET /boom = %d", resp.StatusCode)
	}
	tgt := ok.target("a")
	c := e.inst.get("web", netip.AddrPortFrom(tgt.Address, uint16(tgt.Port)))
	if got := c.requests.Load(); got != 4 {
		t.Errorf("requests = %d, want 4", got)
	}
	if got2, got5 := c.byStatus[2].Load(), c.byStatus[5].Load(); got2 != 3 || got5 != 1 {
		t.Errorf("answers 2xx %d 5xx %d, want 3 and 1", got2, got5)
	}
	if got := c.opened.Load(); got < 1 || got > 4 {
		t.Errorf("connections opened = %d, want 1–4 (pooled)", got)
	}

	dead := deadTarget(t, "a")
	e2 := newEnv(t, "a", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{dead} })
	if resp, _ := e2.get("/"); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("GET through a refusing target = %d, want 502", resp.StatusCode)
	}
	d := e2.inst.get("web", netip.MustParseAddrPort(dead.Address.String()+":"+strconv.Itoa(dead.Port)))
	if d.failed.Load() < 1 || d.opened.Load() != 0 {
		t.Errorf("refusing target: failed %d opened %d, want at least 1 and 0", d.failed.Load(), d.opened.Load())
	}
}
