package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/mdlayher/genetlink"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The IPVS generic-netlink protocol, from include/uapi/linux/ip_vs.h.
const (
	familyName = "IPVS"

	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdGetInfo    = 15

	attrService = 1 // IPVS_CMD_ATTR_SERVICE, nested
	attrDest    = 2 // IPVS_CMD_ATTR_DEST, nested

	svcAF       = 1  // u16
	svcProtocol = 2  // u16
	svcAddr     = 3  // 4 or 16 bytes
	svcPort     = 4  // be16
	svcFWMark   = 5  // u32
	svcSched    = 6  // string
	svcFlags    = 7  // struct ip_vs_flags {u32 flags; u32 mask}
	svcTimeout  = 8  // u32, seconds
	svcNetmask  = 9  // u32
	destAddr    = 1  // 4 or 16 bytes
	destPort    = 2  // be16
	destMethod  = 3  // u32, IP_VS_CONN_F_FWD_MASK bits
	destWeight  = 4  // u32
	destUThresh = 5  // u32
	destLThresh = 6  // u32
	destActive  = 7  // u32
	destInact   = 8  // u32
	destAF      = 11 // u16

	infoVersion = 1 // IPVS_INFO_ATTR_VERSION
	methodMask  = 0x7
)

// conn is a generic-netlink connection to the kernel's IPVS family. It is
// not safe for concurrent use; the Backend serializes calls.
type conn struct {
	c      *genetlink.Conn
	family genetlink.Family
}

// errNoIPVS says the kernel has no IPVS: not built, or the module not loaded.
var errNoIPVS = errors.New("dataplane/ipvs: the kernel has no IPVS (load the ip_vs module)")

// dial opens the caller's network namespace's IPVS: the backend also
// decides which VIPs are local from the caller's addresses.
func dial() (*conn, error) {
	c, err := genetlink.Dial(nil)
	if err != nil {
		return nil, fmt.Errorf("dataplane/ipvs: open generic netlink: %w", err)
	}
	f, err := c.GetFamily(familyName)
	if err != nil {
		c.Close()
		if errors.Is(err, unix.ENOENT) {
			return nil, errNoIPVS
		}
		return nil, fmt.Errorf("dataplane/ipvs: find the IPVS netlink family: %w", err)
	}
	cn := &conn{c: c, family: f}
	// Every IPVS command needs CAP_NET_ADMIN, even reading; asking for the
	// version tells a caller without it now rather than at the first Apply.
	if _, err := cn.version(); err != nil {
		c.Close()
		if errors.Is(err, unix.EPERM) {
			return nil, fmt.Errorf("dataplane/ipvs: programming IPVS needs CAP_NET_ADMIN (run as root): %w", err)
		}
		return nil, err
	}
	return cn, nil
}

func (c *conn) close() error { return c.c.Close() }

// setDeadline bounds the requests that follow, so that a kernel that does
// not answer cannot hold the backend forever.
func (c *conn) setDeadline(t time.Time) error { return c.c.SetDeadline(t) }

func (c *conn) execute(cmd uint8, flags netlink.HeaderFlags, data []byte) ([]genetlink.Message, error) {
	return c.c.Execute(genetlink.Message{
		Header: genetlink.Header{Command: cmd, Version: c.family.Version},
		Data:   data,
	}, c.family.ID, flags)
}

// version returns the kernel's IPVS version as major.minor.patch.
func (c *conn) version() (string, error) {
	msgs, err := c.execute(cmdGetInfo, netlink.Request, nil)
	if err != nil {
		return "", fmt.Errorf("dataplane/ipvs: get info: %w", err)
	}
	for _, m := range msgs {
		ad, err := netlink.NewAttributeDecoder(m.Data)
		if err != nil {
			return "", err
		}
		for ad.Next() {
			if ad.Type() == infoVersion {
				v := ad.Uint32()
				return fmt.Sprintf("%d.%d.%d", v>>16, v>>8&0xff, v&0xff), nil
			}
		}
	}
	return "", errors.New("dataplane/ipvs: get info: no version in the answer")
}

func addrFamily(a netip.Addr) uint16 {
	if a.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

func be16(p uint16) []byte { return binary.BigEndian.AppendUint16(nil, p) }

// encodeServiceKey writes the attributes that identify a service.
func encodeServiceKey(ae *netlink.AttributeEncoder, k serviceKey) {
	a := k.Addr.Addr()
	ae.Uint16(svcAF, addrFamily(a))
	ae.Uint16(svcProtocol, k.Proto)
	ae.Bytes(svcAddr, a.AsSlice())
	ae.Bytes(svcPort, be16(k.Addr.Port()))
}

func serviceAttrs(k serviceKey, s *service) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrService, func(ae *netlink.AttributeEncoder) error {
		encodeServiceKey(ae, k)
		if s != nil {
			ae.String(svcSched, s.Sched)
			flags := make([]byte, 8)
			binary.NativeEndian.PutUint32(flags[0:], s.Flags)
			binary.NativeEndian.PutUint32(flags[4:], ^uint32(flagHashed))
			ae.Bytes(svcFlags, flags)
			ae.Uint32(svcTimeout, s.Timeout)
			mask := uint32(0xffffffff)
			if !k.Addr.Addr().Is4() {
				mask = 128
			}
			ae.Uint32(svcNetmask, mask)
		}
		return nil
	})
	return ae.Encode()
}

func destAttrs(k serviceKey, addr netip.AddrPort, d *dest) ([]byte, error) {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(attrService, func(ae *netlink.AttributeEncoder) error {
		encodeServiceKey(ae, k)
		return nil
	})
	ae.Nested(attrDest, func(ae *netlink.AttributeEncoder) error {
		a := addr.Addr()
		ae.Bytes(destAddr, a.AsSlice())
		ae.Bytes(destPort, be16(addr.Port()))
		ae.Uint16(destAF, addrFamily(a))
		if d != nil {
			ae.Uint32(destMethod, uint32(d.Method))
			ae.Uint32(destWeight, uint32(d.Weight))
			ae.Uint32(destUThresh, 0)
			ae.Uint32(destLThresh, 0)
		}
		return nil
	})
	return ae.Encode()
}

// run carries out one operation.
func (c *conn) run(o op) error {
	var (
		cmd  uint8
		data []byte
		err  error
	)
	switch o.Kind {
	case addService, setService:
		cmd = cmdNewService
		if o.Kind == setService {
			cmd = cmdSetService
		}
		data, err = serviceAttrs(o.Svc, o.Spec)
	case delService:
		cmd = cmdDelService
		data, err = serviceAttrs(o.Svc, nil)
	case addDest, setDest:
		cmd = cmdNewDest
		if o.Kind == setDest {
			cmd = cmdSetDest
		}
		data, err = destAttrs(o.Svc, o.Addr, &o.Dest)
	case delDest:
		cmd = cmdDelDest
		data, err = destAttrs(o.Svc, o.Addr, nil)
	}
	if err != nil {
		return err
	}
	_, err = c.execute(cmd, netlink.Request|netlink.Acknowledge, data)
	return err
}

// services reads every virtual service in the kernel, with its real
// servers, except firewall-mark services (which we never program).
func (c *conn) services() (map[serviceKey]*kernelService, error) {
	msgs, err := c.execute(cmdGetService, netlink.Request|netlink.Dump, nil)
	if err != nil {
		return nil, fmt.Errorf("dataplane/ipvs: list services: %w", err)
	}
	out := make(map[serviceKey]*kernelService, len(msgs))
	for _, m := range msgs {
		s, err := decodeService(m.Data)
		if err != nil {
			return nil, fmt.Errorf("dataplane/ipvs: list services: %w", err)
		}
		if s == nil {
			continue
		}
		out[s.Key] = s
	}
	for _, s := range out {
		if s.Dests, err = c.dests(s.Key); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dests reads the real servers of one service.
func (c *conn) dests(k serviceKey) (map[netip.AddrPort]dest, error) {
	data, err := serviceAttrs(k, nil)
	if err != nil {
		return nil, err
	}
	msgs, err := c.execute(cmdGetDest, netlink.Request|netlink.Dump, data)
	if err != nil {
		return nil, fmt.Errorf("dataplane/ipvs: list real servers of %s: %w", k, err)
	}
	out := make(map[netip.AddrPort]dest, len(msgs))
	for _, m := range msgs {
		addr, d, err := decodeDest(m.Data, k.Addr.Addr())
		if err != nil {
			return nil, fmt.Errorf("dataplane/ipvs: list real servers of %s: %w", k, err)
		}
		out[addr] = d
	}
	return out, nil
}

// decodeService reads one service message; it returns nil for a
// firewall-mark service.
func decodeService(b []byte) (*kernelService, error) {
	var s *kernelService
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	for ad.Next() {
		if ad.Type() != attrService {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			var (
				af        uint16
				raw       []byte
				port      uint16
				fwmark    uint32
				candidate kernelService
			)
			for nad.Next() {
				switch nad.Type() {
				case svcAF:
					af = nad.Uint16()
				case svcProtocol:
					candidate.Key.Proto = nad.Uint16()
				case svcAddr:
					raw = nad.Bytes()
				case svcPort:
					if b := nad.Bytes(); len(b) == 2 {
						port = binary.BigEndian.Uint16(b)
					}
				case svcFWMark:
					fwmark = nad.Uint32()
				case svcSched:
					candidate.Sched = nad.String()
				case svcFlags:
					if b := nad.Bytes(); len(b) >= 4 {
						candidate.Flags = binary.NativeEndian.Uint32(b) &^ flagHashed
					}
				case svcTimeout:
					candidate.Timeout = nad.Uint32()
				}
			}
			if fwmark != 0 {
				return nil
			}
			a, err := decodeAddr(af, raw)
			if err != nil {
				return err
			}
			candidate.Key.Addr = netip.AddrPortFrom(a, port)
			s = &candidate
			return nil
		})
	}
	return s, ad.Err()
}

func decodeDest(b []byte, svcAddr netip.Addr) (netip.AddrPort, dest, error) {
	var (
		addr netip.AddrPort
		d    dest
	)
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return addr, d, err
	}
	for ad.Next() {
		if ad.Type() != attrDest {
			continue
		}
		ad.Nested(func(nad *netlink.AttributeDecoder) error {
			af := addrFamily(svcAddr) // kernels before 3.18 send no family
			var (
				raw  []byte
				port uint16
			)
			for nad.Next() {
				switch nad.Type() {
				case destAF:
					af = nad.Uint16()
				case destAddr:
					raw = nad.Bytes()
				case destPort:
					if b := nad.Bytes(); len(b) == 2 {
						port = binary.BigEndian.Uint16(b)
					}
				case destMethod:
					d.Method = Method(nad.Uint32() & methodMask)
				case destWeight:
					d.Weight = int(int32(nad.Uint32()))
				}
			}
			a, err := decodeAddr(af, raw)
			if err != nil {
				return err
			}
			addr = netip.AddrPortFrom(a, port)
			return nil
		})
	}
	return addr, d, ad.Err()
}

// decodeAddr reads an address the kernel sends as a 16-byte union
// nf_inet_addr, of which IPv4 uses the first four bytes.
func decodeAddr(af uint16, raw []byte) (netip.Addr, error) {
	switch {
	case af == unix.AF_INET && len(raw) >= 4:
		return netip.AddrFrom4([4]byte(raw[:4])), nil
	case af == unix.AF_INET6 && len(raw) >= 16:
		return netip.AddrFrom16([16]byte(raw[:16])), nil
	}
	return netip.Addr{}, fmt.Errorf("address of family %d has %d bytes", af, len(raw))
}
