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
// connection (the accept loop does not go through net's Accept, which
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

// acceptLoop accepts with accept4 on the listener's descriptor, as many
// connections as are queued each time the runtime's poller says the
// listener is readable. A plain tcp listener's connection goes to a
// parker as a raw descriptor (startFast): no net.Conn, no registration in
// the runtime's poller, no goroutine. Others (PROXY header from the
// client, TLS passthrough or termination) become net.Conns served by a
// goroutine each.
func (l *tcpListener) acceptLoop() {
	rc, err := l.lf.SyscallConn()
	if err != nil {
		return
	}
	backoff := 5 * time.Millisecond
	for {
		if !l.lim.acquire() {
			return
		}
		var nfd int
		var client netip.AddrPort
		var aerr error
		err := rc.Read(func(fd uintptr) bool {
			for {
				var e syscall.Errno
				nfd, client, e = rawAccept4(int(fd))
				aerr = nil
				if e != 0 {
					aerr = e
				}
				switch e {
				case unix.EINTR, unix.ECONNABORTED:
					continue
				case unix.EAGAIN:
					return false
				}
				return true
			}
		})
		if err != nil {
			l.lim.release()
			return // closed
		}
		if aerr != nil {
			l.lim.release()
			// Out of file descriptors or memory: wait rather than spin.
			l.p.log.Warn("accept failed", "listener", l.cur.Load().key, "err", aerr, "retry_seconds", backoff.Seconds())
			time.Sleep(backoff)
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 5 * time.Millisecond
		l.p.conns.Add(1)
		s := l.cur.Load()
		if s.proto == model.ProtoTCP && !s.model.AcceptProxyProtocol {
			if pk := l.p.parker(); pk != nil {
				l.startFast(pk, nfd, client, s)
				continue
			}
		}
		c, err := fdConn(nfd)
		if err != nil {
			l.p.log.Warn("accept failed", "listener", s.key, "err", err)
			l.lim.release()
			l.p.conns.Done()
			continue
		}
		go l.handle(c)
	}
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
