//go:build !linux

package l4proxy

import (
	"errors"
	"net"
)

// parker is Linux-only; elsewhere every connection keeps its goroutines.
type parker struct{}

func newParker() (*parker, error) { return nil, errors.ErrUnsupported }

func (*parker) close() {}

func (*parker) add(*tcpConn, *net.TCPConn, *net.TCPConn, *target, func()) bool { return false }
