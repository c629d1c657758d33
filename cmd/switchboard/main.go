// Command switchboard is a self-hosted load balancer and health-checked
// authoritative DNS server. See README.md.
package main

import (
	"context"
	"os"

	"github.com/switchboard/switchboard/internal/cli"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args, os.Stdout, os.Stderr))
}
