// Command udpfloor measures the cost of a Go UDP answer loop without DNS
// work: it answers every query with the query itself turned into a response
// with one fixed A record (10.0.0.1, TTL 300). Its queries per CPU-second
// are the ceiling a Go server using that loop could reach with an answer
// path that costs nothing, to set beside dnsserver's and knot's in
// bench/dns (run.sh with FLOOR=1). Modes:
//
//	netpoll   net.UDPConn ReadFromUDPAddrPort/WriteToUDPAddrPort, one packet
//	          per system call, parked in the netpoller: dnsserver's loop today
//	mmsg      recvmmsg/sendmmsg batches of up to 32 on a blocking socket,
//	          on a locked OS thread, through syscall.Syscall6
//	mmsg-raw  as mmsg, through RawSyscall6, which skips the runtime's
//	          system-call bookkeeping (and so sysmon's hand-off of the P
//	          while blocked). Not for production: a goroutine blocked in a
//	          raw system call stalls stop-the-world until a packet arrives.
//
// It ignores everything in the query past the question section: only for
// plain A queries without EDNS, as run.sh sends.
package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:5304", "loopback host:port to answer on (UDP)")
	mode := flag.String("mode", "netpoll", "netpoll, mmsg or mmsg-raw")
	flag.Parse()
	if err := run(*listen, *mode); err != nil {
		fmt.Fprintln(os.Stderr, "bench/dns/udpfloor:", err)
		os.Exit(1)
	}
}

func run(listen, mode string) error {
	ap, err := netip.ParseAddrPort(listen)
	if err != nil || !ap.Addr().IsLoopback() {
		return fmt.Errorf("-listen %q: want a loopback host:port", listen)
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(ap))
	if err != nil {
		return err
	}
	defer c.Close()
	switch mode {
	case "netpoll":
		return netpollLoop(c)
	case "mmsg":
		return mmsgLoop(c, false)
	case "mmsg-raw":
		return mmsgLoop(c, true)
	}
	return fmt.Errorf("-mode %q: want netpoll, mmsg or mmsg-raw", mode)
}

// netpollLoop answers one packet per system call, as dnsserver's serveUDP.
func netpollLoop(c *net.UDPConn) error {
	req := make([]byte, 65535)
	out := make([]byte, 0, 512)
	for {
		n, from, err := c.ReadFromUDPAddrPort(req)
		if err != nil {
			return err
		}
		if out = answer(req[:n], out[:0]); out != nil {
			_, _ = c.WriteToUDPAddrPort(out, from)
		}
	}
}

// answer appends to out the response to query q: its header and question
// with QR and AA set, and one A record whose owner points at the question.
// It returns nil for anything but a query with one question.
func answer(q, out []byte) []byte {
	const header = 12
	if len(q) < header || q[2]&0x80 != 0 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	end := header
	for end < len(q) && q[end] != 0 {
		end += int(q[end]) + 1
	}
	end += 1 + 4 // root label, type, class
	if end > len(q) {
		return nil
	}
	out = append(out, q[:end]...)
	out[2] |= 0x84 // QR, AA
	out[3] = 0     // RA, Z, RCODE
	binary.BigEndian.PutUint16(out[6:], 1)
	binary.BigEndian.PutUint16(out[8:], 0)
	binary.BigEndian.PutUint16(out[10:], 0)
	return append(out, 0xc0, header, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 10, 0, 0, 1)
}
