package vip

import "context"

// Elector decides which node owns a VIP, so that exactly one node holds
// and announces it. Implementations: Single (one node, always the
// leader); etcd and Kubernetes Lease electors are to come.
type Elector interface {
	// Campaign blocks until this node leads for key (a VIP) or ctx ends,
	// and then returns a channel that is closed when it loses the lead. A
	// nil channel never closes. The lead ends when ctx ends.
	Campaign(ctx context.Context, key string) (lost <-chan struct{}, err error)
}

// Single is the elector of a single node: it leads at once, for ever.
type Single struct{}

// Campaign returns at once: a single node always leads.
func (Single) Campaign(ctx context.Context, _ string) (<-chan struct{}, error) {
	return nil, ctx.Err()
}
