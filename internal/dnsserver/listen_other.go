//go:build !linux

// This file binds one UDP socket, read by several goroutines, where
// SO_REUSEPORT's load spreading is not available.

package dnsserver

import "net"

// listenUDPGroup binds one socket to addr, read by n goroutines.
func listenUDPGroup(addr string, n int) ([]udpSocket, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	c := pc.(*net.UDPConn)
	sizeUDPBuffers(c)
	return []udpSocket{{conn: c, readers: n}}, nil
}
