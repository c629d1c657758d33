//go:build linux && race

package httpproxy

import "syscall"

// Under the race detector the event loop reads and writes through package
// syscall, whose Read and Write tell the detector that what one goroutine
// wrote to a socket happens before another reads it, as Go's net package
// does; raw system calls would hide that and report races that are not.
func rawRead(fd int, p []byte) (int, error) {
	n, err := syscall.Read(fd, p)
	if n < 0 {
		n = 0
	}
	return n, err
}

func rawWrite(fd int, p []byte) (int, error) {
	n, err := syscall.Write(fd, p)
	if n < 0 {
		n = 0
	}
	return n, err
}
