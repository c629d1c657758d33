package server

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// freePort returns a TCP port that was free a moment ago on 127.0.0.1: the
// model wants a real port for a listener.
// TestRunServesL4 checks the wiring: a tcp listener in the file forwards
// to its target group, and stopping the server drains it.
func TestRunServesL4(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the target\n")
			c.Close()
		}
	}()
	port := freePort(t, "tcp")
	yaml := testConfig + fmt.Sprintf(`target_groups:
  - { name: web, protocol: tcp, targets: [{ address: 127.0.0.1, port: %d, zone: a }] }
load_balancers:
  - name: edge
    listeners:
      - { protocol: tcp, port: %d, address: 127.0.0.1, default_action: { forward: { target_groups: [{ name: web }] } } }
`, backend.Addr().(*net.TCPAddr).Port, port)
	_, cancel, wait := runServer(t, yaml, nil)
	var got []byte
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err = io.ReadAll(c)
			c.Close()
			if err == nil && len(got) > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer through the L4 listener on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if string(got) != "hello from the target\n" {
		t.Errorf("through the L4 listener got %q", got)
	}
	cancel()
	if err := wait(); err != nil {
		t.Errorf("Run after cancel = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Error("the L4 listener still accepts after Run returned")
	}
}
