package demo_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/config"
	"github.com/switchboard/switchboard/internal/demo"
)

func TestConfigIsValid(t *testing.T) {
	bs, err := demo.StartBackends()
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	text := demo.Config(bs, demo.Ports{Admin: "127.0.0.1:9090", DNS: "127.0.0.1:5353", HTTP: 8080, TCP: 8081})
	doc, err := config.Parse("demo.yaml", []byte(text))
	if err != nil {
		t.Fatalf("the demo configuration is invalid:\n%v\n%s", err, text)
	}
	if got := len(doc.TargetGroups[0].Targets); got != len(demo.Zones)*demo.BackendsPerZone {
		t.Errorf("target group web has %d targets, want %d", got, len(demo.Zones)*demo.BackendsPerZone)
	}
}

func get(t *testing.T, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestFailAndHealZone(t *testing.T) {
	bs, err := demo.StartBackends()
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go bs.Control(ctx, ln)
	ctl := "http://" + ln.Addr().String()

	var b1 *demo.Backend
	for _, b := range bs.All() {
		if b.Zone == "b" {
			b1 = b
			break
		}
	}
	body, err := get(t, "http://"+b1.Addr.String()+"/")
	if err != nil || !strings.Contains(body, "zone b") {
		t.Fatalf("backend in zone b answered %q, %v", body, err)
	}
	resp, err := http.Post(ctl+"/zones/b/fail", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("fail zone b: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := get(t, "http://"+b1.Addr.String()+"/"); err == nil {
		t.Fatal("a backend of a failed zone still answers")
	}
	if got := bs.Down(); len(got) != 1 || got[0] != "b" {
		t.Errorf("Down() = %v, want [b]", got)
	}
	resp, err = http.Post(ctl+"/zones/b/heal", "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("heal zone b: %v %v", resp, err)
	}
	resp.Body.Close()
	if body, err := get(t, "http://"+b1.Addr.String()+"/"); err != nil || !strings.Contains(body, "zone b") {
		t.Fatalf("healed backend answered %q, %v", body, err)
	}
	resp, err = http.Post(ctl+"/zones/x/fail", "", nil)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("failing an unknown zone: %v %v, want 404", resp, err)
	}
}
