//go:build !linux

package main

import (
	"errors"
	"fmt"
	"net"
)

// mmsgLoop needs recvmmsg and sendmmsg, which are Linux's.
func mmsgLoop(*net.UDPConn, bool) error {
	return fmt.Errorf("mmsg modes: %w", errors.ErrUnsupported)
}
