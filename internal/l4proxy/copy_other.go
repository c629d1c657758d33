//go:build !linux

package l4proxy

import "net"

// spliceCopy copies src to dst with the runtime's own fast path.
func spliceCopy(dst, src *net.TCPConn) (int64, error) { return dst.ReadFrom(src) }
