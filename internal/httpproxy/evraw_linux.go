//go:build linux && !race

package httpproxy

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawRead and rawWrite are recv(2) and send(2) on the event loop's
// non-blocking sockets, which never block, so they skip the scheduler's
// system call hooks; recvfrom and sendto also skip the file layer that
// read and write go through.
func rawRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func rawWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
