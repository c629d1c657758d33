package health

import (
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard/switchboard/internal/health/state"
	"github.com/switchboard/switchboard/internal/model"
)

// recorder is an Observer that keeps what it is told.
type recorder struct {
	mu          sync.Mutex
	probes      []Observation
	transitions []Event
}

func (r *recorder) Probed(k state.Key, o Observation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.probes = append(r.probes, o)
}

func (r *recorder) Transitioned(ev Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.transitions = append(r.transitions, ev)
}

func (r *recorder) counts() (probes int, words []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.transitions {
		words = append(words, ev.Previous.Word()+">"+ev.Status.Word())
	}
	return len(r.probes), words
}

// TestObserverSeesEveryProbeAndTransition: the observer is told of each
// probe, and of each transition once, after thresholds.
func TestObserverSeesEveryProbeAndTransition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		rec := &recorder{}
		e := NewEngine(EngineConfig{
			Observer:         rec,
			NewChecker:       func(*model.Probe) (Checker, error) { return c, nil },
			NewMetricChecker: func(*model.HealthCheck, *Metrics, *http.Client) (Checker, error) { return c, nil },
		})
		stop := run(t, e, oneCheck(nil)) // interval 1s, unhealthy after 3 failures
		defer stop()
		after(time.Second)
		c.healthy.Store(false)
		for range 4 {
			after(time.Second)
		}
		probes, words := rec.counts()
		if probes != 5 {
			t.Errorf("observer told of %d probes, want 5", probes)
		}
		// unknown>healthy at the first result; healthy>unhealthy once, at the third failure.
		want := []string{"unknown>healthy", "healthy>unhealthy"}
		if len(words) != len(want) || words[0] != want[0] || words[1] != want[1] {
			t.Errorf("observer told of transitions %v, want %v", words, want)
		}
	})
}
