package httpproxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/switchboard/switchboard/internal/certstore/certstoretest"
	"github.com/switchboard/switchboard/internal/model"
)

// TestHTTPSBySNI: an https listener with three certificates; each name
// gets its certificate, a client without SNI the default (the first), and
// clients that offer h2 speak HTTP/2.
func TestHTTPSBySNI(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Header.Get("X-Forwarded-Proto")) })
	dir := t.TempDir()
	certs := []model.Certificate{
		certstoretest.Write(t, dir, "default", certstoretest.ECDSA, 1, "default.test"),
		certstoretest.Write(t, dir, "shop", certstoretest.RSA, 2, "shop.test"),
		certstoretest.Write(t, dir, "wild", certstoretest.ECDSA, 3, "*.api.test"),
	}
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Targets = []model.Target{b.target("a")}
		l := &st.LoadBalancers[0].Listeners[0]
		l.Protocol, l.Certificates = model.ProtoHTTPS, certs
	})
	addr := "127.0.0.1:" + strconv.Itoa(e.port)
	for _, tt := range []struct {
		sni    string
		serial int64
	}{{"shop.test", 2}, {"v1.api.test", 3}, {"", 1}, {"unknown.test", 1}} {
		t.Run("sni="+tt.sni, func(t *testing.T) {
			for _, proto := range []string{"h2", "http/1.1"} {
				tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: tt.sni, NextProtos: []string{proto}}}
				tr.Protocols = new(http.Protocols)
				tr.Protocols.SetHTTP1(proto == "http/1.1")
				tr.Protocols.SetHTTP2(proto == "h2")
				defer tr.CloseIdleConnections()
				resp, err := (&http.Client{Transport: tr}).Get("https://" + addr + "/")
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				wantProto := map[string]string{"h2": "HTTP/2.0", "http/1.1": "HTTP/1.1"}[proto]
				if got := resp.TLS.PeerCertificates[0].SerialNumber.Int64(); got != tt.serial || resp.Proto != wantProto || string(body) != "https" {
					t.Errorf("%s with SNI %q: certificate %d, %s, body %q; want certificate %d, %s, https", proto, tt.sni, got, resp.Proto, body, tt.serial, wantProto)
				}
			}
		})
	}
	// TLS 1.1 is refused.
	if c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11}); err == nil {
		c.Close()
		t.Error("a TLS 1.1 handshake succeeded")
	}
	// A changed certificate file is served after Refresh, without a restart.
	certstoretest.Write(t, dir, "shop", certstoretest.ECDSA, 22, "shop.test")
	e.p.Refresh(time.Now().Add(time.Hour))
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: "shop.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); got != 22 {
		t.Errorf("after the file changed: certificate %d, want 22", got)
	}
}

// TestH2C: a plain listener speaks HTTP/2 with prior knowledge.
func TestH2C(t *testing.T) {
	b := newBackend(t, "a", nil)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(e.url("/"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/2.0" || string(body) != "a" {
		t.Errorf("h2c GET = %s %q, want HTTP/2.0 a", resp.Proto, body)
	}
}

// TestWebSocket: an upgrade passes through and messages echo both ways.
func TestWebSocket(t *testing.T) {
	b := newBackend(t, "ws", websocket.Handler(func(c *websocket.Conn) {
		for {
			var m string
			if websocket.Message.Receive(c, &m) != nil || websocket.Message.Send(c, m) != nil {
				return
			}
		}
	}).ServeHTTP)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	cfg, err := websocket.NewConfig("ws://127.0.0.1:"+strconv.Itoa(e.port)+"/echo", "http://origin.test/")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := websocket.DialConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	for _, msg := range []string{"hello", "again", string(make([]byte, 100000))} {
		if err := websocket.Message.Send(ws, msg); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := websocket.Message.Receive(ws, &got); err != nil {
			t.Fatal(err)
		}
		if got != msg {
			t.Errorf("echo of %d bytes = %d bytes, want the same", len(msg), len(got))
		}
	}
}

// TestGRPC: unary, server streaming and bidirectional streaming calls
// through a grpc target group (h2c to the target), with trailers.
func TestGRPC(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	go gs.Serve(ln)
	defer gs.Stop()
	ap := ln.Addr().(*net.TCPAddr).AddrPort()
	e := newEnv(t, "", func(st *model.State) {
		st.TargetGroups[0].Protocol = model.ProtoGRPC
		st.TargetGroups[0].Targets = []model.Target{{Address: ap.Addr(), Port: int(ap.Port()), Zone: "a"}}
		st.LoadBalancers[0].Listeners[0].Rules = []model.Rule{{Priority: 1,
			Conditions: model.Conditions{GRPC: &model.GRPCMatch{Service: "grpc.nothing.Here"}},
			Action:     fixedAction("no")}}
	})
	conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(e.port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	hc := healthpb.NewHealthClient(conn)
	resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || resp.Status != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("unary Check = %v, %v; want SERVING", resp, err)
	}
	// An unknown service: the status travels in the trailers.
	if _, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"}); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("Check of an unknown service = %v, want NotFound from the trailers", err)
	}

	// Server streaming: Watch sees a change made after it started.
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "svc"})
	if err != nil {
		t.Fatal(err)
	}
	hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
	seen := map[healthpb.HealthCheckResponse_ServingStatus]bool{}
	for !seen[healthpb.HealthCheckResponse_SERVING] {
		m, err := watch.Recv()
		if err != nil {
			t.Fatalf("Watch.Recv: %v", err)
		}
		seen[m.Status] = true
		if m.Status == healthpb.HealthCheckResponse_SERVICE_UNKNOWN {
			hs.SetServingStatus("svc", healthpb.HealthCheckResponse_SERVING)
		}
	}

	// Bidirectional streaming: reflection answers each request on the stream.
	rc := reflectionpb.NewServerReflectionClient(conn)
	stream, err := rc.ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("reflection round %d: %v", i, err)
		}
		if n := len(m.GetListServicesResponse().GetService()); n < 2 {
			t.Errorf("reflection round %d listed %d services, want health and reflection", i, n)
		}
	}
	stream.CloseSend()
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after CloseSend, Recv = %v, want EOF", err)
	}
}
