package route53_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53 "github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/miekg/dns"

	"github.com/switchboard/switchboard/internal/api/route53"
	"github.com/switchboard/switchboard/internal/dnsserver"
	"github.com/switchboard/switchboard/internal/health"
	"github.com/switchboard/switchboard/internal/store"
	"github.com/switchboard/switchboard/internal/view"
)

const (
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// stack is a switchboard wired as internal/server wires it: a bbolt store,
// the health engine, a view built from every version and health change
// and published, the DNS server on a loopback port, and the Route 53 API
// on an HTTP test server.
type stack struct {
	st      store.Store
	pub     *view.Publisher
	engine  *health.Engine
	dns     *dnsserver.Server
	dnsAddr string
	api     *httptest.Server
	client  *r53.Client
}

func newStack(t *testing.T) *stack {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{st: st, pub: view.NewPublisher(), engine: health.NewEngine(health.EngineConfig{})}
	s.dns, err = dnsserver.New(dnsserver.Config{Listen: []string{"127.0.0.1:0"}, Views: s.pub, UDPSockets: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.dns.Listen(); err != nil {
		t.Fatal(err)
	}
	s.dnsAddr = s.dns.Addrs()[0].String()
	h, err := route53.New(route53.Config{
		Store: st, Views: s.pub, Health: s.engine, DNS: s.dns,
		Keys: map[string]string{testKeyID: testSecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	s.api = newAPIServer(t, h)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.engine.Run(ctx) })
	wg.Go(func() { s.dns.Run(ctx) })
	wg.Go(func() { buildViews(ctx, st, s.engine, s.pub) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		st.Close()
	})
	s.client = s.newClient(testKeyID, testSecret)
	return s
}

// newAPIServer serves h under /2013-04-01/, as the admin listener does.
func newAPIServer(t *testing.T, h http.Handler) *httptest.Server {
	mux := http.NewServeMux()
	mux.Handle("/"+route53.APIVersion+"/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// newClient is the official SDK's Route 53 client, pointed at the stack.
func (s *stack) newClient(id, secret string) *r53.Client {
	return r53.New(r53.Options{
		BaseEndpoint:     aws.String(s.api.URL),
		Region:           "us-east-1",
		Credentials:      credentials.NewStaticCredentialsProvider(id, secret, ""),
		RetryMaxAttempts: 1,
	})
}

// buildViews is internal/server's loop: a view for every version and
// every health change, each version applied to the health engine first.
func buildViews(ctx context.Context, st store.Store, e *health.Engine, pub *view.Publisher) {
	versions := st.Watch(ctx, 0)
	healths := e.Subscribe(ctx)
	var cur *store.Snapshot
	hs := e.Snapshot()
	for {
		select {
		case <-ctx.Done():
			return
		case snap, ok := <-versions:
			if !ok {
				return
			}
			e.Apply(snap.State)
			cur = snap
		case h, ok := <-healths:
			if !ok {
				return
			}
			hs = h
		}
		if cur != nil {
			pub.Publish(view.Build(cur.Version, cur.State, hs, time.Now()))
		}
	}
}

// query asks the DNS server over UDP and returns the answer's A records.
func (s *stack) query(t *testing.T, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, s.dnsAddr)
	if err != nil {
		t.Fatalf("dns query %s: %v", name, err)
	}
	var out []string
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			out = append(out, a.A.String())
		}
	}
	return out
}

// eventually polls cond until it holds or timeout passes. The conditions
// wait on real probes and sockets, which a fake clock cannot drive.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		<-tick.C
	}
}

// backend is a local HTTP server that health checks probe.
func backend(t *testing.T) (*httptest.Server, int) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	var p int
	for _, c := range port {
		p = p*10 + int(c-'0')
	}
	return srv, p
}
