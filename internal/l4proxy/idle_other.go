//go:build !linux

package l4proxy

import (
	"net"
	"time"
)

// sinceActivity cannot ask the kernel outside Linux; connections there are
// closed after the idle timeout whatever their traffic.
func sinceActivity(*net.TCPConn) (time.Duration, bool) { return 0, false }
