package health

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"

	"github.com/switchboard/switchboard/internal/model"
)

// TestReportSuccessLockFree: a Success on a target with no failure counted
// returns without the engine's lock (the test holds it), while a Success
// after a failure still takes it and resets the run.
func TestReportSuccessLockFree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{}
		c.healthy.Store(true)
		e := engineWith(c)
		stop := run(t, e, groupState(4, &model.OutlierDetection{ConsecutiveFailures: 2, BaseEjection: dur("30s"), MaxEjection: dur("60s")}))
		defer stop()
		target := targetKey(0).Target

		e.mu.Lock()
		e.Report("web", target, Success, "")              // would deadlock if it locked
		e.Report("nope", target, Success, "")             // unknown group
		e.Report("web", targetKey(9).Target, Success, "") // unknown target
		e.mu.Unlock()

		e.Report("web", target, Failure, "reset")
		if m := *e.fast.Load(); !m[passiveKey{"web", target}].counting.Load() {
			t.Fatal("a failure did not mark the target as counting")
		}
		e.Report("web", target, Success, "")
		if m := *e.fast.Load(); m[passiveKey{"web", target}].counting.Load() {
			t.Fatal("a success did not clear the counting mark")
		}
		e.Report("web", target, Failure, "reset")
		settle()
		if st, _ := e.Snapshot().Get(targetKey(0)); st.Ejected {
			t.Fatal("ejected after one failure: the success did not reset the run")
		}
		e.Report("web", target, Failure, "reset")
		settle()
		if st, _ := e.Snapshot().Get(targetKey(0)); !st.Ejected {
			t.Fatal("not ejected after two consecutive failures")
		}
	})
}

// BenchmarkReportSuccess is the proxies' per-request cost of passive health
// in the common case.
func BenchmarkReportSuccess(b *testing.B) {
	c := &switchable{}
	c.healthy.Store(true)
	e := engineWith(c)
	if err := e.Apply(groupState(4, nil)); err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for e.fast.Load() == nil {
		runtime.Gosched()
	}
	target := targetKey(1).Target
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e.Report("web", target, Success, "")
		}
	})
}
