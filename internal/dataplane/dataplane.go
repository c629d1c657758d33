// Package dataplane is the contract between the routing view and the
// programs that forward traffic in the kernel (dataplane/nft,
// dataplane/ipvs): a Backend reconciles what it programs towards a view and
// reports what it did and what it could not do.
package dataplane

import (
	"context"
	"net/netip"
	"time"

	"github.com/switchboard/switchboard/internal/view"
)

// Backend programs one kind of forwarding towards a view.
//
// Apply reconciles towards v: it reads what is programmed now, changes only
// what differs, and reports what it could not do rather than pretending. It
// is safe to call again with the same v (nothing changes) and is called from
// one goroutine at a time. Close removes everything the backend programmed
// and releases its handles.
type Backend interface {
	Apply(ctx context.Context, v *view.View) (Report, error)
	Close() error
}

// Report is the outcome of one Apply.
type Report struct {
	// Backend names the backend, such as "nft" or "ipvs".
	Backend string
	// Version is the view version applied.
	Version uint64
	// Services are the virtual services programmed, one per VIP, port and protocol.
	Services []Service
	// Changes counts the kernel objects added, updated and removed.
	Added, Updated, Removed int
	// Problems are the things that could not be done, each with its reason,
	// such as "load balancer web: listener udp/53: no UDP support in dsr mode".
	Problems []string
	// Took is how long Apply spent.
	Took time.Duration
}

// Service is one virtual service as programmed.
type Service struct {
	// Name is "load-balancer/listener", such as "web/tcp:443".
	Name string
	// VIP is the virtual address and port, such as 192.0.2.10:443.
	VIP string
	// Protocol is tcp or udp.
	Protocol string
	// Targets are the programmed targets as address:port with their weights.
	Targets []WeightedTarget
}

// WeightedTarget is a target as programmed. Addr is kept as an address,
// not text: reports are made on every change and read only by /status,
// where it marshals to the same address:port text.
type WeightedTarget struct {
	Addr   netip.AddrPort
	Weight int
}
