//go:build unix

package l4proxy

import (
	"net"
	"syscall"
)

var datagramPool = newBytesPool(64 << 10)

// recvPooled waits for a datagram on c and hands it to f in a pooled
// buffer. The buffer is taken only once the socket is readable, so the many
// idle flows of a busy listener hold no buffer while they wait.
func recvPooled(c *net.UDPConn, f func([]byte)) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var n int
	var rerr error
	var bp *[]byte
	err = rc.Read(func(fd uintptr) bool {
		bp = datagramPool.get()
		n, _, rerr = syscall.Recvfrom(int(fd), *bp, 0)
		if rerr == syscall.EAGAIN {
			datagramPool.put(bp)
			bp = nil
			return false
		}
		return true
	})
	if bp != nil {
		defer datagramPool.put(bp)
	}
	if err != nil {
		return err
	}
	if rerr != nil {
		return rerr // ECONNREFUSED from an ICMP error: the flow goes on
	}
	f((*bp)[:n])
	return nil
}
