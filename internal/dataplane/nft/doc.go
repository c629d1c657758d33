// Package nft is the nftables data plane: it forwards a load balancer's L4
// listeners in the kernel, in one table of its own per family (ip and ip6
// switchboard for NAT, netdev switchboard for direct server return), and
// never touches another table. VIPs may be IPv4 or IPv6; a service forwards
// to the targets of its VIP's IP version.
//
// Each virtual service (VIP, protocol, port) gets one rule and one map of M
// slots (M prime, default 65537). The rule hashes the flow with jhash over
// the client's address and port (with a fixed seed, so every node and every
// rewrite of the rule hashes alike) and looks the slot up in the map; the
// slots are filled by Maglev (internal/balance) in proportion to the
// targets' weights, so a target change rewrites only the slots that move,
// about M/n of them.
//
//   - NAT mode: `dnat ip addr . port to jhash … map @slots` (ip6 alike) at prerouting
//     and output, and masquerade of those flows at postrouting so replies
//     come back through the balancer. Conntrack keeps a flow on its target.
//   - DSR mode: a netdev ingress chain on the balancer's interface runs
//     `fwd ip to jhash … map @slots device IF` before conntrack: the packet
//     leaves unchanged but for its MAC addresses (the kernel resolves the
//     target's), and the target, which owns the VIP on its loopback, replies
//     straight to the client. No state: the hash alone keeps a flow on its
//     target.
//
// The static part (tables, chains, rules, which maps exist) is written with
// the nft command, since google/nftables has no fwd expression; it changes
// only when services come or go. Slots are written over netlink in
// transactions of a bounded size, each made of messages of at most
// BatchSize elements: one netlink attribute holds at most 64 KiB, and the
// kernel silently drops elements past it; one sendmsg holds at most the
// socket buffer, and a larger transaction fails with EMSGSIZE.
package nft
