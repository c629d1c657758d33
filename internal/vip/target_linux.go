package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"syscall"

	"github.com/vishvananda/netlink"
)

// arpSysctls are the settings a direct-server-return target needs so that
// it never answers ARP for the VIP on its loopback (arp_ignore=1: answer
// only for addresses of the interface asked on) and never uses the VIP as
// the source of its own ARP requests (arp_announce=2). The kernel applies
// the larger of "all" and the interface's value, so both are set.
var arpSysctls = []struct{ path, on string }{
	{"/proc/sys/net/ipv4/conf/all/arp_ignore", "1"},
	{"/proc/sys/net/ipv4/conf/lo/arp_ignore", "1"},
	{"/proc/sys/net/ipv4/conf/all/arp_announce", "2"},
	{"/proc/sys/net/ipv4/conf/lo/arp_announce", "2"},
}

// SetupTarget prepares this machine (its current network namespace) to
// receive a direct-server-return balancer's traffic for vip: it puts vip on
// the loopback interface as a host address and, for IPv4, sets arp_ignore=1
// and arp_announce=2 so the target does not claim the VIP on the LAN. It is
// idempotent. IPv6 needs no setting: Linux answers neighbour solicitations
// only for addresses of the interface asked on.
func SetupTarget(vip netip.Addr) error {
	lo, addr, err := loopbackAddr(vip)
	if err != nil {
		return err
	}
	if vip.Is4() {
		for _, s := range arpSysctls {
			if err := os.WriteFile(s.path, []byte(s.on), 0o644); err != nil {
				return fmt.Errorf("vip: set %s=%s: %w", s.path, s.on, err)
			}
		}
	}
	if err := netlink.AddrAdd(lo, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
		return fmt.Errorf("vip: add %s to lo: %w", vip, err)
	}
	return nil
}

// UndoTarget removes vip from the loopback interface. When no other IPv4
// VIP is left there, it puts arp_ignore and arp_announce back to the
// kernel's defaults (0). It is idempotent.
func UndoTarget(vip netip.Addr) error {
	lo, addr, err := loopbackAddr(vip)
	if err != nil {
		return err
	}
	if err := netlink.AddrDel(lo, addr); err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("vip: remove %s from lo: %w", vip, err)
	}
	if !vip.Is4() {
		return nil
	}
	left, err := netlink.AddrList(lo, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("vip: list lo addresses: %w", err)
	}
	for _, a := range left {
		if !a.IP.IsLoopback() {
			return nil // another VIP still needs the settings
		}
	}
	for _, s := range arpSysctls {
		if err := os.WriteFile(s.path, []byte("0"), 0o644); err != nil {
			return fmt.Errorf("vip: reset %s: %w", s.path, err)
		}
	}
	return nil
}

func loopbackAddr(vip netip.Addr) (netlink.Link, *netlink.Addr, error) {
	vip, addr, err := hostAddr(vip)
	if err != nil {
		return nil, nil, err
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return nil, nil, fmt.Errorf("vip: loopback interface: %w", err)
	}
	return lo, addr, nil
}

// hostAddr checks that vip can be a virtual IP and returns it unmapped, as
// a host address (/32 or /128; IPv6 without duplicate detection, so that
// it is usable at once).
func hostAddr(vip netip.Addr) (netip.Addr, *netlink.Addr, error) {
	vip = vip.Unmap()
	if err := Check(vip); err != nil {
		return vip, nil, err
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: vip.AsSlice(), Mask: net.CIDRMask(vip.BitLen(), vip.BitLen())}}
	if vip.Is6() {
		addr.Flags = syscall.IFA_F_NODAD
	}
	return vip, addr, nil
}
