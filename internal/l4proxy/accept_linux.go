package l4proxy

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/switchboard/switchboard/internal/model"
)

// setup sets TCP_NODELAY on the listening socket once: accepted sockets
// inherit it from the listener on Linux, which saves a setsockopt per
// connection (the raw accept does not go through net's Accept, which
// sets it on each). It also takes a duplicate of the listener's
// descriptor as an *os.File: a net.Listener's raw connection cannot wait
// for readability, an os.File's can.
func (l *tcpListener) setup() error {
	f, err := l.ln.File()
	if err != nil {
		return err
	}
	// Not f.Fd(), which would make the socket blocking.
	rc, err := f.SyscallConn()
	if err == nil {
		cerr := rc.Control(func(fd uintptr) { err = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) })
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	l.lf = f
	return nil
}

// serveFd serves an accepted socket, counted in l.lim and p.conns: it
// goes to a parker as it is, or, when the listener takes a PROXY header
// from its clients (which a tcp listener may start doing without a
// rebind), becomes a net.Conn with a goroutine.
func (l *tcpListener) serveFd(nfd int, client netip.AddrPort) {
	s := l.cur.Load()
	if s.proto == model.ProtoTCP && !s.model.AcceptProxyProtocol {
		if pk := l.p.parker(); pk != nil {
			l.startFast(pk, nfd, client, s)
			return
		}
	}
	c, err := fdConn(nfd)
	if err != nil {
		l.p.log.Warn("accept failed", "listener", s.key, "err", err)
		l.lim.release()
		l.p.conns.Done()
		return
	}
	go l.handle(c)
}

// fdConn turns an accepted socket into a *net.TCPConn, closing fd.
func fdConn(fd int) (*net.TCPConn, error) {
	f := os.NewFile(uintptr(fd), "")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		c.Close()
		return nil, errors.New("l4proxy: accepted a socket that is not TCP")
	}
	return tc, nil
}

// listenerKeyBits mark a listener's epoll key in a parker's set: a pair's
// client side never has the generation bit (see pair.key).
const listenerKeyBits = 2

// startInLoop puts a plain tcp listener into a parker's epoll set,
// level-triggered: the parker's loop accepts (acceptBatch) with raw
// accept4 when connections wait, with no goroutine of the listener's own,
// so one wake-up serves new connections and the bytes of established ones
// alike. false when there is no parker or the descriptor cannot be set up:
// then the portable acceptLoop serves it. Other protocols (TLS, TLS
// passthrough) always take acceptLoop: their connections become net.Conns
// anyway, which net's Accept makes with fewer system calls than a raw
// descriptor's conversion (os.NewFile, net.FileConn).
func (l *tcpListener) startInLoop() bool {
	pk := l.p.parker()
	if pk == nil || l.cur.Load().proto != model.ProtoTCP {
		return false
	}
	if err := l.setup(); err != nil {
		l.p.log.Warn("raw accept unavailable, accepting through net", "listener", l.cur.Load().key, "err", err)
		return false
	}
	pk.mu.Lock()
	pk.next++
	id := pk.next
	pk.lns[id] = l
	pk.mu.Unlock()
	l.loop, l.lkey = pk, id<<2|listenerKeyBits
	if l.listenCtl(unix.EPOLL_CTL_ADD, unix.EPOLLIN) != nil {
		pk.mu.Lock()
		delete(pk.lns, id)
		pk.mu.Unlock()
		l.loop = nil
		return false
	}
	return true
}

// listenCtl changes the listener's registration in its parker's set.
func (l *tcpListener) listenCtl(op int, events uint32) error {
	rc, err := l.lf.SyscallConn()
	if err != nil {
		return err
	}
	var e syscall.Errno
	ev := unix.EpollEvent{Events: events, Fd: int32(l.lkey), Pad: int32(l.lkey >> 32)}
	if cerr := rc.Control(func(fd uintptr) { e = rawEpollCtl(l.loop.epfd, op, int(fd), &ev) }); cerr != nil {
		return cerr
	}
	if e != 0 {
		return e
	}
	return nil
}

// stopInLoop takes the listener out of its parker's set.
func (l *tcpListener) stopInLoop() {
	if l.loop == nil {
		return
	}
	l.listenCtl(unix.EPOLL_CTL_DEL, 0)
	l.loop.mu.Lock()
	delete(l.loop.lns, l.lkey>>2)
	l.loop.mu.Unlock()
}

// pause takes the listener out of the loop's events (at its connection
// limit, or out of descriptors): connections wait in the kernel's backlog.
// It returns once paused is set; resume undoes it.
func (l *tcpListener) pause() {
	l.listenCtl(unix.EPOLL_CTL_MOD, 0)
	l.paused.Store(true)
}

// resume puts a paused listener back: after a connection ends, when the
// limit changes, or after a backoff.
func (l *tcpListener) resume() {
	if l.loop != nil && l.paused.CompareAndSwap(true, false) {
		l.listenCtl(unix.EPOLL_CTL_MOD, unix.EPOLLIN)
	}
}

// acceptBatch accepts, in the parker's loop, every connection waiting on
// the listener, within its limit.
func (l *tcpListener) acceptBatch() {
	rc, err := l.lf.SyscallConn()
	if err != nil {
		return
	}
	for {
		if !l.lim.tryAcquire() {
			l.pause()
			// A connection may have ended between the two: then the
			// listener goes on.
			if !l.lim.tryAcquire() {
				return
			}
			l.resume()
		}
		nfd, client, e := -1, netip.AddrPort{}, syscall.Errno(0)
		cerr := rc.Control(func(fd uintptr) {
			for {
				nfd, client, e = rawAccept4(int(fd))
				if e != unix.EINTR && e != unix.ECONNABORTED {
					return
				}
			}
		})
		switch {
		case cerr != nil: // closed
			l.lim.release()
			return
		case e == unix.EAGAIN:
			l.lim.release()
			return
		case e != 0:
			l.lim.release()
			// Out of file descriptors or memory: pause rather than spin
			// on the level-triggered event.
			l.p.log.Warn("accept failed", "listener", l.cur.Load().key, "err", e, "retry_seconds", 0.1)
			l.pause()
			time.AfterFunc(100*time.Millisecond, l.resume)
			return
		}
		l.p.conns.Add(1)
		l.serveFd(nfd, client)
	}
}
