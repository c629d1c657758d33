package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// freePort returns a port free on 127.0.0.1 for both TCP and UDP just now,
// and never the same port twice in one test run: the kernel may hand a
// just-closed port out again, and two listeners of one demo on one port
// would stop it from starting.
func freePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		pc, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		ln.Close()
		if err == nil {
			pc.Close()
			if !portsGiven[port] {
				portsGiven[port] = true
				return port
			}
		}
	}
	t.Fatal("no free port")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// TestDemo runs `switchboard demo` as a newcomer would, fails zone b with
// `switchboard demo fail-zone b`, and sees the DNS answers and the HTTP
// responses through both listeners (HTTP and TCP) move to the other zones,
// then back after heal-zone.
func TestDemo(t *testing.T) {
	bin := switchboard(t)
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	control := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	httpPort, tcpPort := freePort(t), freePort(t)
	admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "demo", "--log-level", "info",
		"--admin", admin, "--dns", dnsAddr,
		"--http-port", strconv.Itoa(httpPort), "--tcp-port", strconv.Itoa(tcpPort),
		"--control", control, "--dir", t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var tour strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			tour.WriteString(sc.Text() + "\n")
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			if resp, err := http.Get("http://" + admin + "/status"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				t.Logf("demo /status:\n%s", b)
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			mu.Lock()
			t.Logf("demo stdout:\n%s\ndemo stderr:\n%s", tour.String(), stderr.String())
			mu.Unlock()
		}
	})
	poll(t, "the demo's tour", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(tour.String(), "demo fail-zone b")
	})

	c := &dns.Client{Timeout: 2 * time.Second}
	answers := func(name string) []string {
		q := new(dns.Msg)
		q.SetQuestion(name, dns.TypeA)
		r, _, err := c.Exchange(q, dnsAddr)
		if err != nil || r.Rcode != dns.RcodeSuccess {
			return []string{fmt.Sprintf("error %v %v", r, err)}
		}
		var out []string
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		return out
	}
	one := func(name string) string { return strings.Join(answers(name), ",") }
	// Zone b's node is 127.0.0.12: the failover primary and the closest
	// latency region.
	poll(t, "api.demo.test on zone b", func() bool { return one("api.demo.test.") == "127.0.0.12" })
	poll(t, "latency.demo.test on zone b", func() bool { return one("latency.demo.test.") == "127.0.0.12" })
	poll(t, "zone b among the load balancer's nodes", func() bool { return strings.Contains(one("lb.demo.test."), "127.0.0.12") })

	// zones asks a listener 12 times, on new connections, which zones answered.
	zones := func(port int) map[string]int {
		seen := map[string]int{}
		c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for range 12 {
			resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
			if err != nil {
				seen["error"]++
				continue
			}
			seen[resp.Header.Get("X-Demo-Zone")]++
			resp.Body.Close()
		}
		return seen
	}
	listeners := map[string]int{"http": httpPort, "tcp": tcpPort}
	for name, port := range listeners {
		poll(t, "every zone answering through the "+name+" listener", func() bool {
			z := zones(port)
			return z["a"] > 0 && z["b"] > 0 && z["c"] > 0
		})
	}

	run := func(args ...string) string {
		b, err := exec.Command(bin, append([]string{"demo"}, append(args, "--control", control)...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("switchboard demo %v: %v\n%s", args, err, b)
		}
		return string(b)
	}
	if out := run("fail-zone", "b"); !strings.Contains(out, "zone b failed") {
		t.Errorf("fail-zone said %q", out)
	}
	poll(t, "api.demo.test failed over to zone c", func() bool { return one("api.demo.test.") == "127.0.0.13" })
	poll(t, "latency.demo.test moved to the next closest region", func() bool { return one("latency.demo.test.") == "127.0.0.11" })
	poll(t, "zone b left the load balancer's name", func() bool {
		got := one("lb.demo.test.")
		return !strings.Contains(got, "127.0.0.12") && strings.Contains(got, "127.0.0.11")
	})
	for range 30 {
		if got := one("weighted.demo.test."); got == "127.0.0.12" || strings.HasPrefix(got, "error") {
			t.Fatalf("weighted.demo.test answered %s with zone b failed", got)
		}
	}
	for name, port := range listeners {
		poll(t, "zone b gone from the "+name+" listener's answers", func() bool {
			z := zones(port)
			return z["b"] == 0 && z["error"] == 0 && z["a"] > 0 && z["c"] > 0
		})
	}
	run("heal-zone", "b")
	poll(t, "api.demo.test back on zone b", func() bool { return one("api.demo.test.") == "127.0.0.12" })
	// Passive health ejected zone b's targets when their connections were
	// refused, and the load balancer's name counts both target groups'
	// healthy targets per zone. An ejection ends once the active check,
	// having seen a probe fail during it, passes healthy_threshold times
	// again. On a loaded machine the zone can heal before any probe of a
	// group failed; that ejection then runs its course: base_ejection, 30 s.
	pollWithin(t, 45*time.Second, "zone b back in the load balancer's name", func() bool { return strings.Contains(one("lb.demo.test."), "127.0.0.12") })
	for name, port := range listeners {
		pollWithin(t, 45*time.Second, "zone b back behind the "+name+" listener", func() bool { return zones(port)["b"] > 0 })
	}
}
