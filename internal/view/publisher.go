package view

import (
	"context"
	"sync"
	"sync/atomic"
)

// Publisher holds the current View and tells subscribers about new ones.
// Load is safe on hot paths: it is one atomic load and takes no lock.
type Publisher struct {
	cur atomic.Pointer[View]

	mu   sync.Mutex // guards subs
	subs map[chan *View]struct{}
}

// NewPublisher returns a Publisher with no view yet.
func NewPublisher() *Publisher {
	return &Publisher{subs: map[chan *View]struct{}{}}
}

// Load returns the current view, or nil before the first Publish.
func (p *Publisher) Load() *View { return p.cur.Load() }

// Publish makes v the current view and offers it to every subscriber.
// Views must be published in order of their build; Publish may be called
// from one goroutine at a time.
func (p *Publisher) Publish(v *View) {
	// Store under mu, so that a concurrent Subscribe either gets v as its
	// current view or gets it offered below, never both.
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cur.Store(v)
	for ch := range p.subs {
		offer(ch, v)
	}
}

// offer puts v in ch (capacity 1), replacing a view the subscriber has not
// taken yet: a data plane wants the newest view, not every one.
func offer(ch chan *View, v *View) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

// Subscribe returns a channel that receives the current view (if any) and
// then each newer one; a slow reader skips to the newest. The channel is
// closed when ctx ends.
func (p *Publisher) Subscribe(ctx context.Context) <-chan *View {
	ch := make(chan *View, 1)
	p.mu.Lock()
	p.subs[ch] = struct{}{}
	if v := p.cur.Load(); v != nil {
		ch <- v
	}
	p.mu.Unlock()
	context.AfterFunc(ctx, func() {
		p.mu.Lock()
		delete(p.subs, ch)
		close(ch)
		p.mu.Unlock()
	})
	return ch
}
