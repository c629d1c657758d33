// This file holds the Linux UDP loop: queries are read in batches with
// recvmmsg and their answers sent in one sendmmsg, through x/net's
// ReadBatch and WriteBatch. Both make the system call with MSG_DONTWAIT
// inside the runtime's poller, so a reader parks only when its socket is
// empty, as knot's epoll_wait plus recvmmsg loop does.

package dnsserver

import (
	"errors"
	"fmt"
	"net"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// udpBatch is the most packets one read or write system call carries.
const udpBatch = 16

// batchConn is what serveUDPBatch needs of an ipv4 or ipv6 PacketConn.
// ipv4.Message and ipv6.Message are the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// newBatchConn wraps c for its address family: AF_INET or AF_INET6 (which
// serves IPv4 too when c is bound to a wildcard address).
func newBatchConn(c *net.UDPConn) (batchConn, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var family int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		family, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
	}); err != nil {
		return nil, err
	}
	if serr != nil {
		return nil, serr
	}
	switch family {
	case unix.AF_INET:
		return ipv4.NewPacketConn(c), nil
	case unix.AF_INET6:
		return ipv6.NewPacketConn(c), nil
	}
	return nil, fmt.Errorf("address family %d", family)
}

// udpBuffers are one reader's messages and buffers, allocated once: a
// 64 KiB buffer for every query and answer of a batch, as the one-packet
// loop had one of each.
type udpBuffers struct {
	in  [udpBatch]ipv4.Message
	out [udpBatch]ipv4.Message
	req [udpBatch][]byte
	buf [udpBatch][]byte
}

func newUDPBuffers() *udpBuffers {
	b := new(udpBuffers)
	req := make([]byte, udpBatch*65535)
	buf := make([]byte, udpBatch*65535)
	for i := range udpBatch {
		b.req[i] = req[i*65535 : (i+1)*65535 : (i+1)*65535]
		b.buf[i] = buf[i*65535 : (i+1)*65535 : (i+1)*65535]
		b.in[i].Buffers = [][]byte{b.req[i]}
		b.out[i].Buffers = make([][]byte, 1)
	}
	return b
}

// serveUDPBatch answers queries on c in batches until c is closed, and
// returns nil then. It returns an error at once, having read nothing, when
// c cannot be read in batches; the caller then serves c one packet at a
// time.
func (s *Server) serveUDPBatch(c *net.UDPConn) error {
	pc, err := newBatchConn(c)
	if err != nil {
		return fmt.Errorf("dnsserver: batched udp: %w", err)
	}
	b := newUDPBuffers()
	var bo backoff
	for {
		n, err := pc.ReadBatch(b.in[:], 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Debug("dnsserver: udp read", "err", err)
			bo.wait()
			continue
		}
		bo = 0
		k := 0
		for i := range n {
			m := &b.in[i]
			from, ok := m.Addr.(*net.UDPAddr)
			if !ok {
				continue
			}
			resp := s.handle(b.req[i][:m.N], from.AddrPort().Addr().Unmap(), false, b.buf[i])
			if resp == nil {
				continue
			}
			b.out[k].Buffers[0] = resp
			b.out[k].Addr = m.Addr
			k++
		}
		// A failed send is the client's loss, as a lost packet would be:
		// skip that answer and send the rest.
		for pend := b.out[:k]; len(pend) > 0; {
			sent, err := pc.WriteBatch(pend, 0)
			sent = max(sent, 0)
			if err != nil {
				sent++
			}
			pend = pend[min(sent, len(pend)):]
		}
		for i := range k {
			b.out[i].Buffers[0], b.out[i].Addr = nil, nil // hold no answer or address past its batch
		}
	}
}
