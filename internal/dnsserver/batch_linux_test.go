package dnsserver

import (
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/miekg/dns"
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

// TestUDPLoopAllocs checks that the batched UDP loop with the fast path
// allocates nothing per query, over a real socket: the process's heap
// allocations over 2,000 exchanges stay below one per 20 queries (the
// client's own reads and writes on a connected socket allocate nothing;
// the margin is for the runtime and the test's other goroutines).
func TestUDPLoopAllocs(t *testing.T) {
	hs := start(t, fuzzDoc, nil, func(c *Config) { c.Rand = nil })
	c, err := net.Dial("udp", hs.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pkts [][]byte
	for _, q := range []string{"w.p.test.", "f.p.test.", "ns1.example.com.", "mv12.pick.test."} {
		p, err := newQuery(q, dns.TypeA).Pack()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 65535)
	exchange := func(p []byte) {
		if _, err := c.Write(p); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(buf); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pkts { // warm up: every reader's buffers exist
		for range 50 {
			exchange(p)
		}
	}
	const n = 2000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		exchange(pkts[i%len(pkts)])
	}
	runtime.ReadMemStats(&after)
	if allocs := after.Mallocs - before.Mallocs; allocs > n/20 {
		t.Errorf("%d heap allocations over %d UDP exchanges, want almost none", allocs, n)
	}
}
