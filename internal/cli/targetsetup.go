package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/netip"

	"github.com/switchboard/switchboard/internal/vip"
)

// targetSetup prepares a target of a direct-server-return balancer: the VIP
// on the loopback interface, and for IPv4 arp_ignore=1 and arp_announce=2
// so the target never answers ARP for it. --undo removes it. Both are
// idempotent, so the verb can run at every boot.
func targetSetup(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("target-setup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var vips addrList
	fs.Var(&vips, "vip", "a virtual IP the balancer forwards to this target (repeat for more)")
	undo := fs.Bool("undo", false, "remove the VIPs instead (and reset the ARP settings when no VIP is left)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: switchboard target-setup --vip ADDR [--vip ADDR…] [--undo]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if len(vips) == 0 || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	for _, a := range vips {
		if *undo {
			if err := vip.UndoTarget(a); err != nil {
				fmt.Fprintf(stderr, "switchboard target-setup: %v\n", err)
				return 1
			}
			fmt.Fprintf(stdout, "removed %s from lo\n", a)
			continue
		}
		if err := vip.SetupTarget(a); err != nil {
			fmt.Fprintf(stderr, "switchboard target-setup: %v\n", err)
			return 1
		}
		if a.Is4() {
			fmt.Fprintf(stdout, "%s is on lo; arp_ignore=1 and arp_announce=2 (all, lo)\n", a)
		} else {
			fmt.Fprintf(stdout, "%s is on lo\n", a)
		}
	}
	return 0
}

// addrList is a repeatable flag of IP addresses.
type addrList []netip.Addr

func (l *addrList) String() string { return fmt.Sprint(*l) }

func (l *addrList) Set(s string) error {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return fmt.Errorf("%q is not an IP address", s)
	}
	*l = append(*l, a)
	return nil
}
