package httpproxy

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

func threeBackends(t *testing.T, zoneOf ...string) []*testBackend {
	var bs []*testBackend
	for i, z := range zoneOf {
		bs = append(bs, newBackend(t, z+strconv.Itoa(i), nil))
	}
	return bs
}

func targetsOf(bs []*testBackend, zoneOf ...string) []model.Target {
	var ts []model.Target
	for i, b := range bs {
		ts = append(ts, b.target(zoneOf[i]))
	}
	return ts
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// TestAlgorithms: each algorithm's distribution through the proxy.
func TestAlgorithms(t *testing.T) {
	t.Run("round_robin", func(t *testing.T) {
		bs := threeBackends(t, "a", "a", "a")
		e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = targetsOf(bs, "a", "a", "a") })
		got := e.spread(300)
		for _, b := range bs {
			if got[b.name] != 100 {
				t.Errorf("round robin over 300 requests = %v, want 100 each", got)
			}
		}
	})
	t.Run("round_robin/weighted", func(t *testing.T) {
		bs := threeBackends(t, "a", "a")
		e := newEnv(t, "", func(st *model.State) {
			st.TargetGroups[0].Targets = targetsOf(bs, "a", "a")
			st.TargetGroups[0].Targets[1].Weight = ptr(3)
		})
		got := e.spread(400)
		if got[bs[0].name] != 100 || got[bs[1].name] != 300 {
			t.Errorf("weights 1:3 over 400 requests = %v, want 100 and 300", got)
		}
	})
	t.Run("weighted_random", func(t *testing.T) {
		bs := threeBackends(t, "a", "a")
		e := newEnv(t, "", func(st *model.State) {
			st.TargetGroups[0].Algorithm = model.WeightedRandom
			st.TargetGroups[0].Targets = targetsOf(bs, "a", "a")
			st.TargetGroups[0].Targets[1].Weight = ptr(4)
		})
		got := e.spread(1000)
		// 800 expected; the binomial sd is about 13.
		if share := float64(got[bs[1].name]) / 1000; !near(share, 0.8, 0.06) {
			t.Errorf("weighted random 1:4 = %v, want about 200:800", got)
		}
	})
	t.Run("least_outstanding_requests", func(t *testing.T) {
		release := make(chan struct{})
		slow := newBackend(t, "slow", func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/hold" {
				<-release
			}
			w.Write([]byte("slow"))
		})
		fast := newBackend(t, "fast", nil)
		e := newEnv(t, "", func(st *model.State) {
			st.TargetGroups[0].Algorithm = model.LeastOutstandingRequests
			st.TargetGroups[0].Targets = []model.Target{slow.target("a")}
		})
		// Three requests held on slow, then fast joins: outstanding counts
		// survive the new view, so every new request goes to fast.
		var wg sync.WaitGroup
		defer wg.Wait()
		defer close(release)
		for range 3 {
			wg.Go(func() {
				resp, err := e.cli.Get(e.url("/hold"))
				if err == nil {
					resp.Body.Close()
				}
			})
		}
		waitFor(t, func() bool { return slow.Hits() == 3 })
		e.st.TargetGroups[0].Targets = []model.Target{slow.target("a"), fast.target("a")}
		e.apply()
		got := e.spread(20)
		if got["fast"] != 20 {
			t.Errorf("with the slow target busy, 20 requests went %v, want all to fast", got)
		}
	})
	t.Run("consistent_hash", func(t *testing.T) {
		for _, key := range []string{"header", "cookie", "source_ip"} {
			t.Run(key, func(t *testing.T) {
				bs := threeBackends(t, "a", "a", "a")
				e := newEnv(t, "", func(st *model.State) {
					tg := &st.TargetGroups[0]
					tg.Algorithm = model.ConsistentHash
					tg.Targets = targetsOf(bs, "a", "a", "a")
					switch key {
					case "header":
						tg.HashOn = &model.HashKey{Header: "x-user"}
					case "cookie":
						tg.HashOn = &model.HashKey{Cookie: "uid"}
					default:
						tg.HashOn = &model.HashKey{SourceIP: true}
					}
				})
				seen := map[string]bool{}
				for u := range 60 {
					hdr := []string{"X-User", "user-" + strconv.Itoa(u)}
					if key == "cookie" {
						hdr = []string{"Cookie", "a=b; uid=user-" + strconv.Itoa(u)}
					}
					got := e.spread(5, hdr...)
					if len(got) != 1 {
						t.Fatalf("key %d went to %v, want one target", u, got)
					}
					for k := range got {
						seen[k] = true
					}
				}
				want := 3
				if key == "source_ip" {
					want = 1 // every request comes from 127.0.0.1
				}
				if len(seen) != want {
					t.Errorf("60 keys reached %d targets, want %d", len(seen), want)
				}
			})
		}
	})
}

func inflight(e *env, b *testBackend) int64 {
	for k, be := range *e.p.backends.Load() {
		if k.addr == b.addr {
			return be.inflight.Load()
		}
	}
	return 0
}

// waitFor polls cond for up to 5 s; the proxy's goroutines run on their own.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 5s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCrossZoneOff: a node in zone a sends only to zone a's targets; with
// cross-zone on, everywhere.
func TestCrossZoneOff(t *testing.T) {
	bs := threeBackends(t, "a", "b", "b")
	e := newEnv(t, "a", func(st *model.State) {
		st.TargetGroups[0].Targets = targetsOf(bs, "a", "b", "b")
		st.TargetGroups[0].CrossZone = ptr(false)
	})
	if got := e.spread(30); got[bs[0].name] != 30 {
		t.Errorf("cross-zone off from zone a: %v, want all 30 to %s", got, bs[0].name)
	}
	e.st.TargetGroups[0].CrossZone = ptr(true)
	e.apply()
	if got := e.spread(30); len(got) != 3 {
		t.Errorf("cross-zone on from zone a: %v, want all three targets", got)
	}
}

// TestRoutingFailoverAndFailOpen: unhealthy targets get no traffic until
// healthy ones fall below routing_failover, then every target does; and
// all unhealthy routes to all.
func TestRoutingFailoverAndFailOpen(t *testing.T) {
	bs := threeBackends(t, "a", "a", "a")
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = targetsOf(bs, "a", "a", "a") })
	e.setHealth("web", bs[2].addr, false)
	e.apply()
	if got := e.spread(30); got[bs[2].name] != 0 || got[bs[0].name] != 15 {
		t.Errorf("one unhealthy of three: %v, want 15/15/0", got)
	}
	// Threshold: at least 3 healthy, or route to all.
	e.st.TargetGroups[0].RoutingFailover = &model.Threshold{Count: 3}
	e.st.TargetGroups[0].DNSFailover = &model.Threshold{Count: 3}
	e.apply()
	if got := e.spread(30); got[bs[2].name] != 10 {
		t.Errorf("below routing_failover count 3: %v, want 10 each (fail open)", got)
	}
	// Percent form: 50% healthy is enough with 2 of 3.
	e.st.TargetGroups[0].RoutingFailover = &model.Threshold{Percent: 50}
	e.st.TargetGroups[0].DNSFailover = &model.Threshold{Percent: 50}
	e.apply()
	if got := e.spread(30); got[bs[2].name] != 0 {
		t.Errorf("above routing_failover 50%%: %v, want none to the unhealthy", got)
	}
	for _, b := range bs {
		e.setHealth("web", b.addr, false)
	}
	e.apply()
	if got := e.spread(30); got[bs[0].name] != 10 || got[bs[2].name] != 10 {
		t.Errorf("all unhealthy: %v, want 10 each (fail open)", got)
	}
}

// TestZonalShift: a shift of zone b removes its targets until it expires.
func TestZonalShift(t *testing.T) {
	bs := threeBackends(t, "a", "b")
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = targetsOf(bs, "a", "b")
		st.ZonalShifts = []model.ZonalShift{{TargetGroup: "web", AwayFrom: "b", ExpiresAt: t0.Add(time.Hour)}}
	})
	if got := e.spread(20); got[bs[0].name] != 20 {
		t.Errorf("zone b shifted: %v, want all to zone a", got)
	}
	e.setNow(t0.Add(time.Hour + time.Second))
	e.apply()
	if got := e.spread(20); got[bs[1].name] != 10 {
		t.Errorf("after the shift expired: %v, want 10 each", got)
	}
}

// TestSlowStart: a new target starts at a tenth of its share and grows
// linearly as Refresh advances time.
func TestSlowStart(t *testing.T) {
	bs := threeBackends(t, "a", "a", "a")
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].SlowStart = model.Duration(100 * time.Second)
		st.TargetGroups[0].Targets = targetsOf(bs[:2], "a", "a")
	})
	// The first two are past their ramp when the third joins at t1.
	t1 := t0.Add(200 * time.Second)
	e.setNow(t1)
	e.st.TargetGroups[0].Targets = targetsOf(bs, "a", "a", "a")
	e.apply()
	e.p.Refresh(t1)
	share := func() float64 {
		got := e.spread(420)
		return float64(got[bs[2].name]) / 420
	}
	// Weights 1, 1 and 0.1: 0.1/2.1 ≈ 4.8%.
	if s := share(); !near(s, 0.1/2.1, 0.02) {
		t.Errorf("new target's share at start = %.3f, want about %.3f", s, 0.1/2.1)
	}
	e.p.Refresh(t1.Add(50 * time.Second)) // 0.1+0.9*0.5 = 0.55
	if s := share(); !near(s, 0.55/2.55, 0.02) {
		t.Errorf("new target's share half way = %.3f, want about %.3f", s, 0.55/2.55)
	}
	e.p.Refresh(t1.Add(101 * time.Second))
	if s := share(); !near(s, 1.0/3, 0.02) {
		t.Errorf("new target's share after the ramp = %.3f, want 1/3", s)
	}
}
