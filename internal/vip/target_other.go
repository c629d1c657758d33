//go:build !linux

package vip

import (
	"errors"
	"fmt"
	"net/netip"
)

// SetupTarget needs Linux.
func SetupTarget(netip.Addr) error { return fmt.Errorf("vip: %w", errors.ErrUnsupported) }

// UndoTarget needs Linux.
func UndoTarget(netip.Addr) error { return fmt.Errorf("vip: %w", errors.ErrUnsupported) }
