// Command idleconns opens N keep-alive HTTP/1.1 connections to a proxy,
// sends one GET on each, reads the answer, and holds them idle until it is
// killed; it writes "ready" to -ready once all are open. bench/l7/run.sh
// reads the proxy's resident memory before and after to get memory per idle
// client connection.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18080", "proxy address")
	n := flag.Int("n", 2000, "connections")
	ready := flag.String("ready", "", "file to write when all connections are open")
	flag.Parse()
	conns := make([]net.Conn, 0, *n)
	for i := range *n {
		c, err := net.DialTimeout("tcp", *addr, 5*time.Second)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idleconns: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: bench.test\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "idleconns: connection %d: %v\n", i, err)
			os.Exit(1)
		}
		resp.Body.Close()
		conns = append(conns, c)
	}
	if *ready != "" {
		if err := os.WriteFile(*ready, []byte("ready\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "idleconns:", err)
			os.Exit(1)
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	for _, c := range conns {
		c.Close()
	}
}
