package l4proxy

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The parker's calls on sockets (splice with SPLICE_F_NONBLOCK, shutdown,
// epoll_ctl) never block, so they are made as raw system calls: the Go
// runtime does not mark the thread as in a system call, and its monitor
// does not hand the processor to another thread while the kernel runs the
// loopback delivery a splice triggers. With one processor (as in the
// benchmark) each such handoff is a thread wake-up and a context switch.

// pipeSize is the buffer asked for each splice pipe: a bulk burst moves up
// to this much per pair of splice calls.
const pipeSize = 1 << 20

// splicePipe is a pipe that carries bytes from a socket to a socket. Pipes
// are pooled between bursts; a connection holds one only while a burst
// moves, so idle connections hold none.
type splicePipe struct {
	r, w int
	// slots is how many buffers the pipe holds (its size in pages): a
	// splice from a socket into the empty pipe that moved fewer bytes
	// than that stopped because the socket had no more, not because the
	// pipe was full.
	slots int
	// closed is set by close, so that the cleanup does not close the
	// descriptors (by then maybe reused) again.
	closed *bool
}

func (sp *splicePipe) close() {
	*sp.closed = true
	unix.Close(sp.r)
	unix.Close(sp.w)
}

var pipePool = sync.Pool{New: func() any {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC|unix.O_NONBLOCK); err != nil {
		return nil
	}
	// Best effort: without it the pipe holds 64 KiB (16 pages).
	size, err := unix.FcntlInt(uintptr(fds[0]), unix.F_SETPIPE_SZ, pipeSize)
	if err != nil {
		size = 64 << 10
	}
	sp := &splicePipe{r: fds[0], w: fds[1], slots: size / os.Getpagesize(), closed: new(bool)}
	// A pipe the pool drops is closed when collected.
	runtime.AddCleanup(sp, func(p pipeFDs) {
		if !*p.closed {
			unix.Close(p.fds[0])
			unix.Close(p.fds[1])
		}
	}, pipeFDs{fds, sp.closed})
	return sp
}}

type pipeFDs struct {
	fds    [2]int
	closed *bool
}

func getPipe() *splicePipe {
	sp, _ := pipePool.Get().(*splicePipe)
	return sp
}

func rawSplice(in, out, n int, flags uintptr) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_SPLICE, uintptr(in), 0, uintptr(out), 0, uintptr(n), flags)
	return int(r), e
}

func rawShutdown(fd, how int) syscall.Errno {
	_, _, e := unix.RawSyscall(unix.SYS_SHUTDOWN, uintptr(fd), uintptr(how), 0)
	return e
}

func rawEpollCtl(epfd, op, fd int, ev *unix.EpollEvent) syscall.Errno {
	_, _, e := unix.RawSyscall6(unix.SYS_EPOLL_CTL, uintptr(epfd), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return e
}

func rawClose(fd int) {
	unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
}

// rawAccept4 accepts a connection on listening socket fd, non-blocking
// and close-on-exec, and returns the peer's address. (unix.Accept4 asks
// the listener's protocol with a getsockopt on every call.)
func rawAccept4(fd int) (int, netip.AddrPort, syscall.Errno) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	r, _, e := unix.RawSyscall6(unix.SYS_ACCEPT4, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)), unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0, 0)
	if e != 0 {
		return -1, netip.AddrPort{}, e
	}
	return int(r), rawAddrPort(&rsa), 0
}

// rawSockname is socket fd's local address.
func rawSockname(fd int) (netip.AddrPort, syscall.Errno) {
	var rsa unix.RawSockaddrAny
	n := uint32(unsafe.Sizeof(rsa))
	_, _, e := unix.RawSyscall(unix.SYS_GETSOCKNAME, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), uintptr(unsafe.Pointer(&n)))
	if e != 0 {
		return netip.AddrPort{}, e
	}
	return rawAddrPort(&rsa), 0
}

func rawAddrPort(rsa *unix.RawSockaddrAny) netip.AddrPort {
	switch rsa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), uint16(p[0])<<8|uint16(p[1]))
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		p := (*[2]byte)(unsafe.Pointer(&a.Port))
		return netip.AddrPortFrom(netip.AddrFrom16(a.Addr).Unmap(), uint16(p[0])<<8|uint16(p[1]))
	}
	return netip.AddrPort{}
}

// rawConnectSocket opens a non-blocking TCP socket with TCP_NODELAY and
// starts connecting it to addr.
func rawConnectSocket(addr netip.AddrPort) (int, syscall.Errno) {
	var rsa unix.RawSockaddrAny
	var n uintptr
	family := unix.AF_INET
	port := [2]byte{byte(addr.Port() >> 8), byte(addr.Port())}
	if a := addr.Addr(); a.Is4() || a.Is4In6() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		sa.Family = unix.AF_INET
		*(*[2]byte)(unsafe.Pointer(&sa.Port)) = port
		sa.Addr = a.Unmap().As4()
		n = unsafe.Sizeof(*sa)
	} else {
		family = unix.AF_INET6
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		sa.Family = unix.AF_INET6
		*(*[2]byte)(unsafe.Pointer(&sa.Port)) = port
		sa.Addr = a.As16()
		if z := a.Zone(); z != "" {
			if ifi, err := net.InterfaceByName(z); err == nil {
				sa.Scope_id = uint32(ifi.Index)
			}
		}
		n = unsafe.Sizeof(*sa)
	}
	r, _, e := unix.RawSyscall(unix.SYS_SOCKET, uintptr(family), unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if e != 0 {
		return -1, e
	}
	fd := int(r)
	// Requests and answers go out at once, as they came in.
	one := int32(1)
	if _, _, e = unix.RawSyscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.IPPROTO_TCP, unix.TCP_NODELAY, uintptr(unsafe.Pointer(&one)), 4, 0); e != 0 {
		rawClose(fd)
		return -1, e
	}
	for {
		_, _, e = unix.RawSyscall(unix.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&rsa)), n)
		if e != unix.EINTR {
			break
		}
	}
	if e != 0 && e != unix.EINPROGRESS {
		rawClose(fd)
		return -1, e
	}
	return fd, 0
}

func rawRecv(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_DONTWAIT, 0, 0)
	return int(r), e
}

func rawSend(fd int, b []byte) (int, syscall.Errno) {
	r, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_DONTWAIT|unix.MSG_NOSIGNAL, 0, 0)
	return int(r), e
}
