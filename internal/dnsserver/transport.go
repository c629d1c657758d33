// This file holds the sockets: binding UDP and TCP on one port, the UDP
// read loops and the TCP connections with their 2-byte length framing.

package dnsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// udpSocket is a bound UDP socket and how many goroutines read it.
type udpSocket struct {
	conn    *net.UDPConn
	readers int
}

// listen binds addr on UDP (n sockets, or one read by n goroutines) and on
// TCP at the same port. For port 0 the UDP port is chosen first and TCP
// follows it; if that TCP port is taken, it tries again with a new one.
func listen(addr string, n int) ([]udpSocket, net.Listener, error) {
	host, portName, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, nil, err
	}
	port, err := net.LookupPort("udp", portName)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if port != 0 {
		u, err := listenUDPGroup(addr, n)
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", addr)
		if err != nil {
			closeAll(u)
			return nil, nil, err
		}
		return u, l, nil
	}
	// Port 0: one socket without SO_REUSEPORT, because the kernel may hand a
	// reuse-port socket an ephemeral port another process's group holds.
	for attempt := 0; ; attempt++ {
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		c := pc.(*net.UDPConn)
		sizeUDPBuffers(c)
		p := c.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(p)))
		if err == nil {
			return []udpSocket{{conn: c, readers: n}}, l, nil
		}
		c.Close()
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 9 {
			return nil, nil, err
		}
	}
}

// udpBufferSize is the receive and send buffer asked of each UDP socket,
// so a burst of queries waits in the kernel rather than being dropped. The
// kernel caps it at net.core.rmem_max and wmem_max.
const udpBufferSize = 4 << 20

// sizeUDPBuffers asks for udpBufferSize buffers on c. Where that is refused,
// c keeps the system's default: a smaller buffer is no reason not to serve.
func sizeUDPBuffers(c *net.UDPConn) {
	_ = c.SetReadBuffer(udpBufferSize)
	_ = c.SetWriteBuffer(udpBufferSize)
}

func closeAll(us []udpSocket) {
	for _, u := range us {
		u.conn.Close()
	}
}

// backoff sleeps after a failed read or accept that is not a closed socket,
// doubling from 5ms to 1s (as net/http's Serve), so a persistent error
// cannot spin a core.
type backoff time.Duration

func (b *backoff) wait() {
	d := time.Duration(*b)
	switch {
	case d == 0:
		d = 5 * time.Millisecond
	case d < time.Second:
		d *= 2
	}
	*b = backoff(d)
	time.Sleep(d)
}

// serveUDP answers queries on c until c is closed: in batches where the
// platform has them (batch_linux.go), else one packet at a time.
func (s *Server) serveUDP(c *net.UDPConn) {
	err := s.serveUDPBatch(c)
	if err == nil {
		return
	}
	if !errors.Is(err, errors.ErrUnsupported) {
		s.log.Debug("dnsserver: udp reads one packet at a time", "err", err)
	}
	req := make([]byte, 65535)
	out := make([]byte, 65535)
	var b backoff
	for {
		n, from, err := c.ReadFromUDPAddrPort(req)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dnsserver: udp read", "err", err)
			b.wait()
			continue
		}
		b = 0
		if resp := s.handle(req[:n], from.Addr().Unmap(), false, out); resp != nil {
			// A failed send is the client's loss, as a lost packet would be.
			_, _ = c.WriteToUDPAddrPort(resp, from)
		}
	}
}

// serveTCP accepts connections on l until it is closed, each served by a
// goroutine in wg, at most MaxTCPConns at once.
func (s *Server) serveTCP(ctx context.Context, l net.Listener, wg *sync.WaitGroup) {
	var b backoff
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("dnsserver: tcp accept", "err", err)
			b.wait()
			continue
		}
		b = 0
		select {
		case s.tcpSem <- struct{}{}:
		default:
			s.stats.tcpRejected.Add(1)
			c.Close()
			continue
		}
		wg.Go(func() {
			defer func() { <-s.tcpSem }()
			s.serveConn(ctx, c)
		})
	}
}

// serveConn answers queries on one TCP connection, in order, until the
// client closes it, it idles for TCPIdleTimeout, a packet is dropped, or ctx
// ends (RFC 7766: several queries per connection).
func (s *Server) serveConn(ctx context.Context, c net.Conn) {
	defer c.Close()
	// Wake a blocked read or write when the server stops.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var src netip.Addr
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		src = ta.AddrPort().Addr().Unmap()
	}
	var prefix [2]byte
	req := make([]byte, 512)
	out := make([]byte, 4096)
	for {
		if ctx.Err() != nil {
			return
		}
		c.SetReadDeadline(time.Now().Add(s.idle))
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint16(prefix[:]))
		if n > cap(req) {
			req = make([]byte, n)
		}
		req = req[:n]
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		if isTransfer(req) {
			if err := s.serveTransfer(c, req, src); err != nil {
				return
			}
			continue
		}
		resp := s.handle(req, src, true, out)
		if resp == nil {
			return
		}
		if cap(resp) > cap(out) {
			out = resp[:cap(resp)] // keep the larger buffer for the next answer
		}
		binary.BigEndian.PutUint16(prefix[:], uint16(len(resp)))
		c.SetWriteDeadline(time.Now().Add(s.idle))
		bufs := net.Buffers{prefix[:], resp}
		if _, err := bufs.WriteTo(c); err != nil {
			return
		}
	}
}
