//go:build !linux

package l4proxy

import (
	"errors"
	"net"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
)

// parker is Linux-only; elsewhere every connection keeps its goroutines.
type parker struct{}

func newParker() (*parker, error) { return nil, errors.ErrUnsupported }

func (*parker) close() {}

func (*parker) adopt(*tcpConn, *net.TCPConn, *net.TCPConn, *target, *balance.Endpoint, time.Duration, func()) bool {
	return false
}
