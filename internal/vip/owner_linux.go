package vip

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/switchboard/switchboard/internal/nsrun"
	"golang.org/x/sys/unix"
)

// Run owns every VIP until ctx ends, then withdraws them all. Each VIP
// runs on its own: campaign, take, announce, hold until the lead is lost,
// withdraw, campaign again.
func (o *Owner) Run(ctx context.Context) error {
	ns := vnetns.None()
	if o.cfg.NetNS != "" {
		h, err := vnetns.GetFromPath(o.cfg.NetNS)
		if err != nil {
			return fmt.Errorf("vip: network namespace %s: %w", o.cfg.NetNS, err)
		}
		defer h.Close()
		ns = h
	}
	var nl *netlink.Handle
	var err error
	if ns.IsOpen() {
		nl, err = netlink.NewHandleAt(ns)
	} else {
		nl, err = netlink.NewHandle()
	}
	if err != nil {
		return fmt.Errorf("vip: netlink: %w", err)
	}
	defer nl.Close()
	var wg sync.WaitGroup
	o.mu.Lock()
	// start runs under o.mu. A VIP dropped and added again waits for its
	// old cycle to withdraw before campaigning anew.
	o.start = func(a netip.Addr) {
		prev := o.cycles[a]
		cctx, cancel := context.WithCancel(ctx)
		c := &cycle{cancel: cancel, done: make(chan struct{})}
		o.cycles[a] = c
		wg.Go(func() {
			defer o.finished(a, c)
			defer cancel()
			if prev != nil {
				select {
				case <-prev.done:
				case <-cctx.Done():
					return
				}
			}
			o.own(cctx, ns, nl, a)
		})
	}
	for a := range o.state {
		o.start(a)
	}
	o.mu.Unlock()
	<-ctx.Done()
	o.mu.Lock()
	o.start = nil // no cycle starts after this, so wg.Wait is sound
	o.mu.Unlock()
	wg.Wait()
	return nil
}

// own runs one VIP's cycle until ctx ends. A failure that repeats (no
// root, no such interface) is logged once, not on every retry; Status
// keeps it.
func (o *Owner) own(ctx context.Context, ns vnetns.NsHandle, nl *netlink.Handle, a netip.Addr) {
	told := ""
	fail := func(msg string, err error) {
		o.update(a, func(s *State) { s.Error = err.Error() })
		if err.Error() != told {
			told = err.Error()
			o.log.Error(msg, "vip", a, "interface", o.cfg.Interface, "err", err, "retry_seconds", o.cfg.Interval.Seconds())
		}
		sleep(ctx, o.cfg.Interval)
	}
	for ctx.Err() == nil {
		lost, err := o.cfg.Elector.Campaign(ctx, a.String())
		if err != nil {
			if ctx.Err() == nil {
				fail("vip campaign failed", err)
			}
			continue
		}
		if err := o.take(ns, nl, a); err != nil {
			fail("vip not taken", err)
			continue
		}
		told = ""
		o.announce(ctx, ns, a, lost)
		select {
		case <-ctx.Done():
		case <-lost:
			o.log.Warn("vip lead lost", "vip", a)
		}
		if err := o.withdraw(nl, a); err != nil {
			o.update(a, func(s *State) { s.Error = err.Error() })
			o.log.Error("vip not withdrawn", "vip", a, "err", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (o *Owner) take(ns vnetns.NsHandle, nl *netlink.Handle, a netip.Addr) error {
	link, err := nl.LinkByName(o.cfg.Interface)
	if err != nil {
		return fmt.Errorf("vip: interface %s: %w", o.cfg.Interface, err)
	}
	_, addr, _ := hostAddr(a)
	err = nl.AddrAdd(link, addr)
	if errors.Is(err, syscall.EPERM) {
		return fmt.Errorf("vip: add %s to %s: %w (owning a VIP needs root or CAP_NET_ADMIN)", a, o.cfg.Interface, err)
	}
	if err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("vip: add %s to %s: %w", a, o.cfg.Interface, err)
	}
	// An address that was there before is the operator's: never remove it.
	added := err == nil
	o.update(a, func(s *State) { s.Held, s.Since, s.Announced, s.Error, s.added = true, time.Now(), 0, "", added })
	o.log.Info("vip taken", "vip", a, "interface", o.cfg.Interface)
	return nil
}

func (o *Owner) withdraw(nl *netlink.Handle, a netip.Addr) error {
	var added bool
	o.update(a, func(s *State) { added = s.added })
	defer o.update(a, func(s *State) { s.Held, s.Since, s.added = false, time.Now(), false })
	if !added {
		o.log.Info("vip left in place: it was on the interface before", "vip", a, "interface", o.cfg.Interface)
		return nil
	}
	link, err := nl.LinkByName(o.cfg.Interface)
	if err != nil {
		return fmt.Errorf("vip: interface %s: %w", o.cfg.Interface, err)
	}
	_, addr, _ := hostAddr(a)
	if err := nl.AddrDel(link, addr); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("vip: remove %s from %s: %w", a, o.cfg.Interface, err)
	}
	o.log.Info("vip withdrawn", "vip", a, "interface", o.cfg.Interface)
	return nil
}

// announce sends the announcements for a, stopping early if ctx ends or
// the lead is lost.
func (o *Owner) announce(ctx context.Context, ns vnetns.NsHandle, a netip.Addr, lost <-chan struct{}) {
	ifc, fd, err := packetSocket(ns, o.cfg.Interface)
	if err != nil {
		o.update(a, func(s *State) { s.Error = err.Error() })
		o.log.Error("vip announcements not sent", "vip", a, "err", err)
		return
	}
	defer unix.Close(fd)
	var frame []byte
	var proto uint16
	if a.Is6() {
		frame, proto = unsolicitedNA(ifc.HardwareAddr, a), unix.ETH_P_IPV6
	} else {
		frame, proto = garp(ifc.HardwareAddr, a), unix.ETH_P_ARP
	}
	to := &unix.SockaddrLinklayer{Ifindex: ifc.Index, Protocol: htons(proto), Halen: 6}
	copy(to.Addr[:], frame[:6])
	t := time.NewTicker(o.cfg.Interval)
	defer t.Stop()
	for i := 0; i < o.cfg.Announcements; i++ {
		if err := unix.Sendto(fd, frame, 0, to); err != nil {
			o.update(a, func(s *State) { s.Error = "announce: " + err.Error() })
		} else {
			now := time.Now()
			o.update(a, func(s *State) { s.Announced, s.LastAnnounced = s.Announced+1, now })
		}
		if i == o.cfg.Announcements-1 {
			break
		}
		select {
		case <-ctx.Done():
			return
		case <-lost:
			return
		case <-t.C:
		}
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// packetSocket opens a raw packet socket in ns (sockets stay in the
// namespace they were made in) and looks up the interface there.
func packetSocket(ns vnetns.NsHandle, name string) (*net.Interface, int, error) {
	var ifc *net.Interface
	fd := -1
	err := nsrun.In(ns, func() error {
		var err error
		if ifc, err = net.InterfaceByName(name); err != nil {
			return fmt.Errorf("vip: interface %s: %w", name, err)
		}
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err != nil {
			return fmt.Errorf("vip: packet socket: %w", err)
		}
		return nil
	})
	if err == nil && len(ifc.HardwareAddr) != 6 {
		unix.Close(fd)
		err = fmt.Errorf("vip: interface %s has no Ethernet address", name)
	}
	return ifc, fd, err
}

// garp is a gratuitous ARP request for a from mac, broadcast: sender and
// target address both a, so every neighbour updates its cache entry.
func garp(mac net.HardwareAddr, a netip.Addr) []byte {
	b := make([]byte, 0, 42)
	b = append(b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_ARP)
	b = binary.BigEndian.AppendUint16(b, 1)      // Ethernet
	b = binary.BigEndian.AppendUint16(b, 0x0800) // IPv4
	b = append(b, 6, 4)
	b = binary.BigEndian.AppendUint16(b, 1) // request
	ip := a.As4()
	b = append(b, mac...)
	b = append(b, ip[:]...)
	b = append(b, 0, 0, 0, 0, 0, 0)
	b = append(b, ip[:]...)
	return b
}

// allNodes is ff02::1 and its Ethernet multicast address.
var (
	allNodes    = netip.MustParseAddr("ff02::1")
	allNodesMAC = []byte{0x33, 0x33, 0, 0, 0, 1}
)

// unsolicitedNA is an unsolicited neighbour advertisement of a at mac to
// all nodes, with the override flag, so neighbours replace their entry.
func unsolicitedNA(mac net.HardwareAddr, a netip.Addr) []byte {
	icmp := make([]byte, 0, 32)
	icmp = append(icmp, 136, 0, 0, 0)                      // type NA, code, checksum
	icmp = binary.BigEndian.AppendUint32(icmp, 0x20000000) // override
	t := a.As16()
	icmp = append(icmp, t[:]...)
	icmp = append(icmp, 2, 1) // target link-layer address option, 8 bytes
	icmp = append(icmp, mac...)
	src, dst := a.As16(), allNodes.As16()
	sum := checksum(src[:], dst[:], icmp)
	binary.BigEndian.PutUint16(icmp[2:], sum)

	b := make([]byte, 0, 14+40+len(icmp))
	b = append(b, allNodesMAC...)
	b = append(b, mac...)
	b = binary.BigEndian.AppendUint16(b, unix.ETH_P_IPV6)
	b = append(b, 0x60, 0, 0, 0)
	b = binary.BigEndian.AppendUint16(b, uint16(len(icmp)))
	b = append(b, 58, 255) // next header ICMPv6, hop limit 255 as NDP requires
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	return append(b, icmp...)
}

// checksum is the ICMPv6 checksum of msg from src to dst (RFC 4443 2.3).
func checksum(src, dst, msg []byte) uint16 {
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	add(src)
	add(dst)
	var l [8]byte
	binary.BigEndian.PutUint32(l[:4], uint32(len(msg)))
	l[7] = 58
	add(l[:])
	add(msg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
