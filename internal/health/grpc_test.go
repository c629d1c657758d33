package health

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/switchboard/switchboard/internal/model"
)

// startGRPC runs a real gRPC server on loopback for the test, with the
// standard health service unless bare, and over TLS with cert if given.
// It returns the health service (nil when bare) and the server's address.
func startGRPC(t *testing.T, bare bool, cert *tls.Certificate) (*health.Server, Target) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var opts []grpc.ServerOption
	if cert != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{*cert}})))
	}
	s := grpc.NewServer(opts...)
	var hs *health.Server
	if !bare {
		hs = health.NewServer() // serves "" as SERVING
		healthpb.RegisterHealthServer(s, hs)
	}
	var wg sync.WaitGroup
	wg.Go(func() { s.Serve(ln) })
	t.Cleanup(func() {
		s.Stop()
		wg.Wait()
	})
	return hs, targetAt(t, ln.Addr().String())
}

// tlsTestCert is httptest's self-signed certificate (example.com, 127.0.0.1,
// ::1) and a pool that trusts it.
func tlsTestCert(t *testing.T) (*tls.Certificate, *x509.CertPool) {
	t.Helper()
	s := httptest.NewTLSServer(http.NotFoundHandler())
	defer s.Close()
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	return &s.TLS.Certificates[0], pool
}

func TestGRPC(t *testing.T) {
	const (
		serving        = healthpb.HealthCheckResponse_SERVING
		notServing     = healthpb.HealthCheckResponse_NOT_SERVING
		serviceUnknown = healthpb.HealthCheckResponse_SERVICE_UNKNOWN
	)
	for _, tt := range []struct {
		name    string
		service string
		set     map[string]healthpb.HealthCheckResponse_ServingStatus
		bare    bool                    // no health service
		target  func(*testing.T) Target // instead of the server
		probe   func(*model.Probe)
		want    wantResult
	}{
		{name: "server/serving", want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "server/not-serving", set: map[string]healthpb.HealthCheckResponse_ServingStatus{"": notServing}, want: wantResult{reason: "NOT_SERVING"}},
		{name: "service/serving", service: "shop.Cart", set: map[string]healthpb.HealthCheckResponse_ServingStatus{"shop.Cart": serving, "": notServing}, want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "service/not-serving", service: "shop.Cart", set: map[string]healthpb.HealthCheckResponse_ServingStatus{"shop.Cart": notServing}, want: wantResult{reason: "NOT_SERVING"}},
		{name: "service/service-unknown", service: "shop.Cart", set: map[string]healthpb.HealthCheckResponse_ServingStatus{"shop.Cart": serviceUnknown}, want: wantResult{reason: "SERVICE_UNKNOWN"}},
		{name: "service/unregistered", service: "shop.Nope", want: wantResult{reason: "grpc status 5: unknown service"}},
		{name: "service/long-name", service: strings.Repeat("s", 300), set: map[string]healthpb.HealthCheckResponse_ServingStatus{strings.Repeat("s", 300): serving}, want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "no-health-service", bare: true, want: wantResult{reason: "grpc status 12: unknown service grpc.health.v1.Health"}},
		{name: "not-grpc", target: h2cNotFound, want: wantResult{reason: "http status 404"}},
		{name: "refused", target: refusedTarget, want: wantResult{re: `connect 127\.0\.0\.1:\d+: connection refused`}},
		{name: "connect-timeout", target: unansweredTarget, probe: withConnectTimeout(probeFailTimeout), want: wantResult{reason: "connect timeout after 200ms"}},
		{name: "timeout/silent", target: silentTarget, probe: withTimeout(probeFailTimeout), want: wantResult{reason: "timeout after 200ms"}},
		{name: "tls-to-h2c", probe: withSNI("example.com"), want: wantResult{re: `tls: .+`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := activeProbe(model.CheckGRPC)
			p.Service = tt.service
			if tt.probe != nil {
				tt.probe(p)
			}
			c, err := NewGRPC(p)
			if err != nil {
				t.Fatalf("NewGRPC: %v", err)
			}
			defer c.Close()
			var target Target
			if tt.target != nil {
				target = tt.target(t)
			} else {
				var hs *health.Server
				hs, target = startGRPC(t, tt.bare, nil)
				for svc, st := range tt.set {
					hs.SetServingStatus(svc, st)
				}
			}
			expectResult(t, tt.name, c.Check(t.Context(), target), tt.want)
		})
	}
}

// h2cNotFound is an HTTP/2 server without TLS that knows no gRPC.
func h2cNotFound(t *testing.T) Target {
	s := httptest.NewUnstartedServer(http.NotFoundHandler())
	s.Config.Protocols = new(http.Protocols)
	s.Config.Protocols.SetUnencryptedHTTP2(true)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Start()
	t.Cleanup(s.Close)
	return targetAt(t, s.Listener.Addr().String())
}

// TestGRPCFlip follows one server as its status changes, and probes it
// from many goroutines at once, for -race.
func TestGRPCFlip(t *testing.T) {
	hs, target := startGRPC(t, false, nil)
	p := activeProbe(model.CheckGRPC)
	p.Service = "shop.Cart"
	c, err := NewGRPC(p)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, step := range []struct {
		set  healthpb.HealthCheckResponse_ServingStatus
		want wantResult
	}{
		{healthpb.HealthCheckResponse_SERVING, wantResult{healthy: true, reason: "SERVING"}},
		{healthpb.HealthCheckResponse_NOT_SERVING, wantResult{reason: "NOT_SERVING"}},
		{healthpb.HealthCheckResponse_SERVING, wantResult{healthy: true, reason: "SERVING"}},
	} {
		hs.SetServingStatus("shop.Cart", step.set)
		name := "shop.Cart " + step.set.String()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() { expectResult(t, name, c.Check(t.Context(), target), step.want) })
		}
		wg.Wait()
	}
}

func TestGRPCTLS(t *testing.T) {
	cert, pool := tlsTestCert(t)
	for _, tt := range []struct {
		name  string
		probe func(*model.Probe)
		trust bool
		want  wantResult
	}{
		{name: "sni/no-verify", probe: withSNI("example.com"), want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "verify", probe: withVerify, trust: true, want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "verify/sni", probe: withAll(withVerify, withSNI("example.com")), trust: true, want: wantResult{healthy: true, reason: "SERVING"}},
		{name: "verify/unknown-ca", probe: withVerify, want: wantResult{reason: "tls: failed to verify certificate: x509: certificate signed by unknown authority"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, target := startGRPC(t, false, cert)
			p := activeProbe(model.CheckGRPC)
			tt.probe(p)
			c, err := NewGRPC(p)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.trust {
				c.roots = pool
			}
			expectResult(t, tt.name, c.Check(t.Context(), target), tt.want)
		})
	}
}

func TestHealthCheckRequest(t *testing.T) {
	for _, tt := range []struct {
		service string
		want    []byte
	}{
		{"", []byte{0, 0, 0, 0, 0}},
		{"a", []byte{0, 0, 0, 0, 3, 0x0a, 1, 'a'}},
	} {
		if got := healthCheckRequest(tt.service); string(got) != string(tt.want) {
			t.Errorf("healthCheckRequest(%q) = %x, want %x", tt.service, got, tt.want)
		}
	}
}

func TestServingStatus(t *testing.T) {
	for _, tt := range []struct {
		name    string
		msg     []byte
		want    uint64
		wantErr bool
	}{
		{name: "empty", msg: []byte{}, want: 0},
		{name: "serving", msg: []byte{0x08, 1}, want: 1},
		{name: "unknown-fields-skipped", msg: []byte{0x12, 2, 'h', 'i', 0x08, 2, 0x1d, 1, 2, 3, 4, 0x21, 1, 2, 3, 4, 5, 6, 7, 8}, want: 2},
		{name: "truncated-varint", msg: []byte{0x08, 0x80}, wantErr: true},
		{name: "overlong-field", msg: []byte{0x12, 9, 'x'}, wantErr: true},
		{name: "bad-wire-type", msg: []byte{0x0b}, wantErr: true},
	} {
		got, err := servingStatus(tt.msg)
		if got != tt.want || (err != nil) != tt.wantErr {
			t.Errorf("servingStatus(%s) = %d, %v; want %d, error %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestNewGRPCErrors(t *testing.T) {
	if c, err := NewGRPC(activeProbe(model.CheckHTTP)); err == nil {
		t.Errorf("NewGRPC(http probe) = %v, nil; want an error", c)
	}
	if c, err := NewGRPC(nil); err == nil {
		t.Errorf("NewGRPC(nil) = %v, nil; want an error", c)
	}
}
