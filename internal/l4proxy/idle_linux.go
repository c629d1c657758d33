package l4proxy

import (
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// sinceActivity is how long ago c last received or sent data, from the
// kernel's TCP_INFO: the copy loops splice in the kernel and never see the
// bytes, so the socket is asked instead of timing every read.
func sinceActivity(c *net.TCPConn) (time.Duration, bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	var since time.Duration
	var ok bool
	if rc.Control(func(fd uintptr) { since, ok = fdSinceActivity(int(fd)) }) != nil {
		return 0, false
	}
	return since, ok
}

// fdSinceActivity is how long ago socket fd last received or sent data,
// from the kernel's TCP_INFO.
func fdSinceActivity(fd int) (time.Duration, bool) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, false
	}
	return time.Duration(min(info.Last_data_recv, info.Last_data_sent)) * time.Millisecond, true
}
