// This file holds the recvmmsg/sendmmsg loop, which needs Linux.

package main

import (
	"net"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// batch is how many packets one recvmmsg may return.
const batch = 32

// mmsgBufs are mmsgLoop's message headers and buffers.
type mmsgBufs struct {
	in, out       [batch]unix.Mmsghdr
	inIov, outIov [batch]unix.Iovec
	names         [batch]unix.RawSockaddrInet6
	reqs, resps   [batch][]byte
}

// mmsgLoop answers batches read with blocking recvmmsg (MSG_WAITFORONE:
// whatever is queued, at least one) and sent with one sendmmsg, on a locked
// OS thread and a blocking copy of c's socket. raw issues the system calls
// with RawSyscall6 instead of Syscall6.
func mmsgLoop(c *net.UDPConn, raw bool) error {
	f, err := c.File() // a blocking duplicate of the socket
	if err != nil {
		return err
	}
	defer f.Close()
	fd := f.Fd()
	sys := unix.Syscall6
	if raw {
		sys = unix.RawSyscall6
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	// On the heap, where nothing moves: the kernel gets their addresses.
	b := new(mmsgBufs)
	in, out, inIov, outIov, names, reqs, resps := &b.in, &b.out, &b.inIov, &b.outIov, &b.names, &b.reqs, &b.resps
	for i := range batch {
		reqs[i] = make([]byte, 4096)
		resps[i] = make([]byte, 0, 512)
		inIov[i].Base = &reqs[i][0]
		inIov[i].SetLen(len(reqs[i]))
		in[i].Hdr.Iov = &inIov[i]
		in[i].Hdr.SetIovlen(1)
		in[i].Hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
	}
	for {
		for i := range batch {
			in[i].Hdr.Namelen = unix.SizeofSockaddrInet6
		}
		r, _, errno := sys(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&in[0])), batch, unix.MSG_WAITFORONE, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		n := 0 // answers to send
		for i := range int(r) {
			resps[n] = answer(reqs[i][:in[i].Len], resps[n][:0])
			if resps[n] == nil {
				resps[n] = make([]byte, 0, 512)
				continue
			}
			outIov[n].Base = &resps[n][0]
			outIov[n].SetLen(len(resps[n]))
			out[n].Hdr.Iov = &outIov[n]
			out[n].Hdr.SetIovlen(1)
			out[n].Hdr.Name = in[i].Hdr.Name
			out[n].Hdr.Namelen = in[i].Hdr.Namelen
			n++
		}
		for sent := 0; sent < n; {
			r, _, errno := sys(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&out[sent])), uintptr(n-sent), 0, 0, 0)
			if errno == unix.EINTR {
				continue
			}
			if errno != 0 {
				return errno
			}
			sent += int(r)
		}
	}
}
