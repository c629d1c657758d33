package nft

import (
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ruleComments dumps the rules of our table of family fam and returns each
// chain's rule comments in order. It reads the comments alone, over its own
// netlink request, because google/nftables fails a whole dump on the
// expressions it cannot parse (ct direction, fwd).
func (b *Backend) ruleComments(fam nftables.TableFamily) (map[string][]string, error) {
	if b.dump == nil {
		// Dialing in another namespace switches a thread into it, which
		// costs milliseconds: keep the socket.
		cfg := &netlink.Config{}
		if b.ns.IsOpen() {
			cfg.NetNS = int(b.ns)
		}
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, cfg)
		if err != nil {
			return nil, err
		}
		b.dump = c
	}
	c := b.dump
	ae := netlink.NewAttributeEncoder()
	ae.String(unix.NFTA_RULE_TABLE, TableName)
	attrs, err := ae.Encode()
	if err != nil {
		return nil, err
	}
	msgs, err := c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETRULE),
			Flags: netlink.Request | netlink.Dump,
		},
		Data: append([]byte{byte(fam), unix.NFNETLINK_V0, 0, 0}, attrs...),
	})
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, m := range msgs {
		if len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return nil, err
		}
		var table, chain, comment string
		for ad.Next() {
			switch ad.Type() {
			case unix.NFTA_RULE_TABLE:
				table = ad.String()
			case unix.NFTA_RULE_CHAIN:
				chain = ad.String()
			case unix.NFTA_RULE_USERDATA:
				comment, _ = userdata.GetString(ad.Bytes(), userdata.TypeComment)
			}
		}
		if err := ad.Err(); err != nil {
			return nil, fmt.Errorf("decode rule: %w", err)
		}
		if table == TableName {
			out[chain] = append(out[chain], comment)
		}
	}
	return out, nil
}
