package nsrun_test

import (
	"errors"
	"net"
	"testing"

	vnetns "github.com/vishvananda/netns"

	"github.com/switchboard/switchboard/internal/nsrun"
	"github.com/switchboard/switchboard/internal/testutil/netns"
)

// TestIn: fn sees the namespace's interfaces (a new namespace has only
// lo), its error comes back, and with no namespace it runs in ours.
func TestIn(t *testing.T) {
	ns := netns.New(t, "nsrun")
	ns.Exec(t, "ip", "link", "add", "probe0", "type", "veth", "peer", "name", "probe1")
	has := func() (bool, error) {
		_, err := net.InterfaceByName("probe0")
		return err == nil, nil
	}
	var inside, outside bool
	if err := nsrun.In(ns.Handle, func() (err error) { inside, err = has(); return err }); err != nil {
		t.Fatal(err)
	}
	if err := nsrun.In(vnetns.None(), func() (err error) { outside, err = has(); return err }); err != nil {
		t.Fatal(err)
	}
	if !inside || outside {
		t.Errorf("probe0 seen inside the namespace: %v, outside: %v; want true, false", inside, outside)
	}
	boom := errors.New("boom")
	if err := nsrun.In(ns.Handle, func() error { return boom }); !errors.Is(err, boom) {
		t.Errorf("In returned %v, want fn's error", err)
	}
}
