package dnsserver

import (
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// rcvbuf is the receive buffer size of c as the kernel reports it (twice
// what was set, for its bookkeeping).
func rcvbuf(t *testing.T, c *net.UDPConn) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		n, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	}); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return n
}

// TestUDPBufferSize checks that the server's UDP sockets ask for
// udpBufferSize: they get it, or net.core.rmem_max when that is less.
func TestUDPBufferSize(t *testing.T) {
	plain, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	def := rcvbuf(t, plain)
	plain.Close()
	capped, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	capped.SetReadBuffer(udpBufferSize)
	want := rcvbuf(t, capped) // what this kernel allows
	capped.Close()

	hs := start(t, staticDoc, nil)
	hs.srv.mu.Lock()
	udp := hs.srv.udp
	hs.srv.mu.Unlock()
	for _, u := range udp {
		if got := rcvbuf(t, u.conn); got != want {
			t.Errorf("SO_RCVBUF = %d, want %d (the default is %d)", got, want, def)
		}
	}
}
