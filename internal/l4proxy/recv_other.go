//go:build !unix

package l4proxy

import "net"

var datagramPool = newBytesPool(64 << 10)

// recvPooled waits for a datagram on c and hands it to f.
func recvPooled(c *net.UDPConn, f func([]byte)) error {
	bp := datagramPool.get()
	defer datagramPool.put(bp)
	n, err := c.Read(*bp)
	if err != nil {
		return err
	}
	f((*bp)[:n])
	return nil
}
