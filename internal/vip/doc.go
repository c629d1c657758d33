// Package vip owns virtual IP addresses: a balancer node puts its VIPs on an
// interface and announces them (gratuitous ARP, unsolicited neighbour
// advertisements) while a leader election says it is their one owner, and
// withdraws them when it stops; a direct-server-return target puts the VIP
// on its loopback without answering ARP for it (SetupTarget).
package vip
