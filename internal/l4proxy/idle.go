package l4proxy

import (
	"net"
	"sync"
	"time"
)

// watchIdle calls onIdle once c has moved no data for idle. It costs one
// runtime timer per connection and a getsockopt per idle period; stop
// cancels it.
func watchIdle(c *net.TCPConn, idle time.Duration, onIdle func()) (stop func()) {
	var mu sync.Mutex
	var t *time.Timer
	mu.Lock()
	t = time.AfterFunc(idle, func() {
		since, ok := sinceActivity(c)
		if ok && since < idle {
			mu.Lock()
			t.Reset(idle - since)
			mu.Unlock()
			return
		}
		onIdle()
	})
	mu.Unlock()
	return func() { t.Stop() }
}
