//go:build !linux

package l4proxy

import (
	"errors"
	"net"
	"time"
)

func (l *tcpListener) setup() error { return nil }

func (l *tcpListener) startInLoop() bool { return false }
func (l *tcpListener) stopInLoop()       {}
func (l *tcpListener) resume()           {}

func (l *tcpListener) acceptLoop() {
	backoff := 5 * time.Millisecond
	for {
		if !l.lim.acquire() {
			return
		}
		c, err := l.ln.AcceptTCP()
		if err != nil {
			l.lim.release()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors or memory: wait rather than spin.
			l.p.log.Warn("accept failed", "listener", l.cur.Load().key, "err", err, "retry_seconds", backoff.Seconds())
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.p.conns.Add(1)
		go l.handle(c)
	}
}
