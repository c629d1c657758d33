//go:build !linux

// This file stands in for the batched UDP loop where recvmmsg and sendmmsg
// are not available: serveUDP reads one packet at a time there.

package dnsserver

import (
	"errors"
	"fmt"
	"net"
)

// serveUDPBatch is Linux's; here it returns errors.ErrUnsupported.
func (s *Server) serveUDPBatch(*net.UDPConn) error {
	return fmt.Errorf("dnsserver: batched udp: %w", errors.ErrUnsupported)
}
