package l4proxy

import (
	"io"
	"net"

	"golang.org/x/sys/unix"
)

// spliceCopy moves src to dst in the kernel (splice through a pipe), one
// burst at a time: it waits until src is readable without holding anything,
// asks how many bytes are queued, and splices exactly those. Calling
// (*net.TCPConn).ReadFrom on the whole stream would splice too, but it
// holds a pipe (two descriptors, and a megabyte of pipe buffer at most)
// for the life of the connection, idle or not; here an idle connection
// holds no pipe, and the pipes return to the runtime's pool between bursts.
// It returns at end of stream with a nil error.
func spliceCopy(dst, src *net.TCPConn) (int64, error) {
	rc, err := src.SyscallConn()
	if err != nil {
		return 0, err
	}
	var total int64
	for {
		var avail int
		var eof bool
		var serr error
		err := rc.Read(func(fd uintptr) bool {
			var b [1]byte
			n, _, e := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
			switch {
			case e == unix.EAGAIN || e == unix.EINTR:
				return false // wait for readability
			case e != nil:
				serr = e
			case n == 0:
				eof = true
			default:
				avail, serr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
			}
			return true
		})
		switch {
		case err != nil:
			return total, err
		case serr != nil:
			return total, serr
		case eof:
			return total, nil
		}
		n, err := dst.ReadFrom(&io.LimitedReader{R: src, N: int64(max(avail, 1))})
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, nil
		}
	}
}
