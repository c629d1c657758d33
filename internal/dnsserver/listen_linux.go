// This file binds a group of UDP sockets with SO_REUSEPORT, so the kernel
// spreads queries over them by flow hash, one reader goroutine each.

package dnsserver

import (
	"context"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// listenUDPGroup binds n sockets to addr (a fixed port) with SO_REUSEPORT.
func listenUDPGroup(addr string, n int) ([]udpSocket, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	var out []udpSocket
	for range n {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		c := pc.(*net.UDPConn)
		sizeUDPBuffers(c)
		out = append(out, udpSocket{conn: c, readers: 1})
	}
	return out, nil
}
