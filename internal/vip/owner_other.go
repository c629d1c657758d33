//go:build !linux

package vip

import (
	"context"
	"errors"
	"fmt"
)

// Run needs Linux.
func (o *Owner) Run(context.Context) error { return fmt.Errorf("vip: %w", errors.ErrUnsupported) }
