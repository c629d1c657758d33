//go:build !linux

package nft

import (
	"context"
	"errors"
	"fmt"

	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/view"
)

// Backend is the nftables data plane; it needs Linux.
type Backend struct{}

var errUnsupported = fmt.Errorf("dataplane/nft: %w", errors.ErrUnsupported)

// New fails: nftables needs Linux.
func New(Config) (*Backend, error) { return nil, errUnsupported }

// Available says why the backend cannot run: it needs Linux.
func Available(string) error { return errUnsupported }

// Apply fails: nftables needs Linux.
func (*Backend) Apply(context.Context, *view.View) (dataplane.Report, error) {
	return dataplane.Report{}, errUnsupported
}

// Close does nothing.
func (*Backend) Close() error { return nil }
