package view_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"

	"go.uber.org/goleak"

	"github.com/switchboard/switchboard/internal/view"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func viewAt(version uint64) *view.View { return &view.View{Version: version} }

// received returns what ch holds now without waiting: the view, whether one
// was there, and whether ch is still open.
func received(ch <-chan *view.View) (v *view.View, got, open bool) {
	select {
	case v, open := <-ch:
		return v, open, open
	default:
		return nil, false, true
	}
}

func TestPublisherLoad(t *testing.T) {
	p := view.NewPublisher()
	if got := p.Load(); got != nil {
		t.Fatalf("Load() before Publish = %+v, want nil", got)
	}
	v1, v2 := viewAt(1), viewAt(2)
	p.Publish(v1)
	if got := p.Load(); got != v1 {
		t.Errorf("Load() after Publish(v1) = %p, want v1 %p", got, v1)
	}
	p.Publish(v2)
	if got := p.Load(); got != v2 {
		t.Errorf("Load() after Publish(v2) = %p, want v2 %p", got, v2)
	}
}

func TestSubscribeGetsCurrentView(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := view.NewPublisher()

		early := p.Subscribe(ctx)
		if v, got, _ := received(early); got {
			t.Fatalf("Subscribe() before any Publish delivered version %d, want nothing", v.Version)
		}

		v1 := viewAt(1)
		p.Publish(v1)
		if v, _, _ := received(early); v != v1 {
			t.Errorf("early subscriber after Publish(v1) got %p, want v1 %p", v, v1)
		}

		late := p.Subscribe(ctx)
		if v, _, _ := received(late); v != v1 {
			t.Errorf("Subscribe() after Publish(v1) got %p, want the current view v1 %p", v, v1)
		}
		if v, got, _ := received(late); got {
			t.Errorf("Subscribe() delivered a second view, version %d, want only the current one", v.Version)
		}
	})
}

// TestSubscribeCoalesces publishes several views to a subscriber that reads
// none of them: it then sees the newest only.
func TestSubscribeCoalesces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		p := view.NewPublisher()
		p.Publish(viewAt(1))
		ch := p.Subscribe(ctx) // holds version 1, unread
		for ver := uint64(2); ver <= 5; ver++ {
			p.Publish(viewAt(ver))
		}
		v, got, _ := received(ch)
		if !got || v.Version != 5 {
			t.Fatalf("slow subscriber after Publish(1…5) got %+v (%t), want version 5", v, got)
		}
		if v, got, _ := received(ch); got {
			t.Errorf("slow subscriber then got version %d, want nothing more", v.Version)
		}
	})
}

// TestSubscribeNeverOlder has a subscriber that reads now and then while
// views are published: what it reads only ever gets newer and ends with the
// newest.
func TestSubscribeNeverOlder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		p := view.NewPublisher()
		ch := p.Subscribe(ctx)

		var seen []uint64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for v := range ch {
				seen = append(seen, v.Version)
			}
		}()

		const n = 50
		for ver := uint64(1); ver <= n; ver++ {
			p.Publish(viewAt(ver))
			if ver%7 == 0 {
				synctest.Wait() // let the reader catch up now and then
			}
		}
		synctest.Wait()
		cancel()
		<-done

		if len(seen) == 0 || seen[len(seen)-1] != n {
			t.Fatalf("subscriber saw %v, want it to end with version %d", seen, n)
		}
		for i := 1; i < len(seen); i++ {
			if seen[i] <= seen[i-1] {
				t.Fatalf("subscriber saw %v: version %d after %d, want only newer ones", seen, seen[i], seen[i-1])
			}
		}
	})
}

func TestSubscribeCancelClosesChannel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		otherCtx, otherCancel := context.WithCancel(t.Context())
		defer otherCancel()
		p := view.NewPublisher()
		p.Publish(viewAt(1))
		ch := p.Subscribe(ctx)
		other := p.Subscribe(otherCtx)

		cancel()
		synctest.Wait()
		// A view not taken yet may still be there; then the channel must be
		// closed, or this range would block and synctest would report it.
		var got []uint64
		for v := range ch {
			got = append(got, v.Version)
		}
		if len(got) > 1 || len(got) == 1 && got[0] != 1 {
			t.Errorf("cancelled subscriber got versions %v, want at most version 1", got)
		}

		// Publishing after a cancel reaches the other subscribers and does
		// not send on the closed channel.
		p.Publish(viewAt(2))
		if v, _, _ := received(other); v == nil || v.Version != 2 {
			t.Errorf("remaining subscriber got %+v, want version 2 (1 coalesced away)", v)
		}
	})
}

func TestSubscribeCancelledContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		p := view.NewPublisher()
		p.Publish(viewAt(1))
		ch := p.Subscribe(ctx)
		synctest.Wait()
		for range ch { // drains, and ends only when ch is closed
		}
		p.Publish(viewAt(2))
	})
}

// TestPublisherConcurrent runs one publisher (Publish is for one goroutine
// at a time) against many readers and subscribers, for the race detector.
func TestPublisherConcurrent(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		views       = 2000
		loaders     = 8
		subscribers = 8
	)
	p := view.NewPublisher()
	done := make(chan struct{}) // closed after the last Publish
	var wg sync.WaitGroup

	wg.Go(func() {
		defer close(done)
		for ver := uint64(1); ver <= views; ver++ {
			p.Publish(viewAt(ver))
		}
	})
	for range loaders {
		wg.Go(func() {
			var last uint64
			for {
				select {
				case <-done:
					if v := p.Load(); v.Version != views {
						t.Errorf("Load() after the last Publish = version %d, want %d", v.Version, views)
					}
					return
				default:
				}
				if v := p.Load(); v != nil {
					if v.Version < last {
						t.Errorf("Load() = version %d after %d, want never older", v.Version, last)
						return
					}
					last = v.Version
				}
			}
		})
	}
	for range subscribers {
		wg.Go(func() {
			// Subscribe, read a few views, unsubscribe; again, until the
			// publisher is done.
			for round := 0; ; round++ {
				ctx, cancel := context.WithCancel(context.Background())
				ch := p.Subscribe(ctx)
				var last uint64
				check := func(v *view.View) {
					if v.Version <= last {
						t.Errorf("subscriber got version %d after %d, want only newer", v.Version, last)
					}
					last = v.Version
				}
				finished := false
				for i := 0; i < round%4+1 && !finished; i++ {
					select {
					case v := <-ch:
						check(v)
					case <-done:
						finished = true
					}
				}
				cancel()
				for v := range ch { // until the close
					check(v)
				}
				if finished {
					break
				}
			}
			// A subscription after the last Publish starts at the last view.
			ctx, cancel := context.WithCancel(context.Background())
			ch := p.Subscribe(ctx)
			if v := <-ch; v.Version != views {
				t.Errorf("Subscribe() after the last Publish got version %d, want %d", v.Version, views)
			}
			cancel()
			for range ch {
			}
		})
	}
	wg.Wait()
}
