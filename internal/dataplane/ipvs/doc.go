// Package ipvs programs the kernel's IP Virtual Server (IPVS) towards the
// routing view: one virtual service per load-balancer address, listener port
// and protocol (tcp, udp), with the target group's routable targets as real
// servers, and reconciles the kernel's table with the fewest changes.
//
// The translation from a view to the desired services (desired.go) and the
// diff against what the kernel holds (plan.go) are pure functions; only
// netlink_linux.go and backend_linux.go touch the kernel.
//
// # Netlink library
//
// The backend speaks IPVS's generic-netlink protocol (family "IPVS",
// include/uapi/linux/ip_vs.h) itself, over github.com/mdlayher/genetlink
// and github.com/mdlayher/netlink: pure Go, maintained (the same library
// google/nftables builds on), and handle-based, so it can be pointed at a
// network namespace. The dedicated IPVS libraries were weighed and not
// taken: github.com/cloudflare/ipvs (pure Go, maintained) is not served by
// the module proxy we build with, and github.com/moby/ipvs, last changed in
// 2023, keeps the family id in package globals resolved once (a kernel whose
// module loads later is never seen), runs modprobe itself, logs through
// logrus and has no tunnel-type or 64-bit counter support. The protocol
// surface we need is eight commands and two attribute sets, which is less
// code than adapting around those.
//
// # Graceful removal
//
// A real server that leaves the desired set is first set to weight 0 (no new
// connections; existing ones continue), and deleted once its target group's
// deregistration delay has passed. A virtual service that leaves is drained
// the same way as a whole. The backend keeps a timer for the earliest drain
// deadline and reconciles the last view again when it fires.
//
// # Ownership
//
// The backend changes only services whose virtual address is one of the view's
// load-balancer addresses, or was programmed by this backend before; services
// others put in the kernel (kube-proxy, an operator's ipvsadm) are left alone.
package ipvs
