// Package blackhole gives tests a loopback TCP address that never
// completes a handshake, so that connect timeouts meet a real socket
// without a network namespace: a socket listening with a backlog of 0
// whose accept queue is full drops every further SYN.
package blackhole

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// Listen returns such an address on 127.0.0.1, or skips t when this
// kernel completes handshakes beyond a full accept queue (SYN cookies
// make some do). Everything is closed when t ends.
func Listen(t testing.TB) netip.AddrPort {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	syscall.CloseOnExec(fd) // SOCK_CLOEXEC is Linux's; this builds everywhere
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in4 := sa.(*syscall.SockaddrInet4)
	addr := netip.AddrPortFrom(netip.AddrFrom4(in4.Addr), uint16(in4.Port))
	// Fill the queue until a connect waits; give up after a few.
	for range 5 {
		c, err := net.DialTimeout("tcp", addr.String(), 300*time.Millisecond)
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				return addr
			}
			t.Fatalf("blackhole: dial %s: %v", addr, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	t.Skip("blackhole: this kernel completes handshakes beyond a full accept queue (SYN cookies?)")
	return addr
}
