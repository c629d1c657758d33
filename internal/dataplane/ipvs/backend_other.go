//go:build !linux

package ipvs

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/view"
)

var _ dataplane.Backend = (*Backend)(nil)

// Backend programs IPVS, which exists only on Linux.
type Backend struct{}

// New fails: IPVS is a Linux kernel feature.
func New(cfg Config) (*Backend, error) {
	return nil, fmt.Errorf("dataplane/ipvs: %w", errors.ErrUnsupported)
}

// Apply fails: IPVS is a Linux kernel feature.
func (b *Backend) Apply(ctx context.Context, v *view.View) (dataplane.Report, error) {
	return dataplane.Report{Backend: "ipvs"}, fmt.Errorf("dataplane/ipvs: %w", errors.ErrUnsupported)
}

// Close does nothing.
func (b *Backend) Close() error { return nil }
