package health

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// grpcHealthPath is the method of the standard gRPC health service
// (grpc/grpc-proto grpc/health/v1/health.proto).
const grpcHealthPath = "/grpc.health.v1.Health/Check"

// maxGRPCMessage bounds the HealthCheckResponse we read; the real one is
// two bytes.
const maxGRPCMessage = 4 << 10

// GRPC probes an endpoint with the standard gRPC health check,
// grpc.health.v1.Health/Check, and is healthy when the answer is SERVING.
// It speaks the few bytes of gRPC and protobuf that this takes itself, over
// HTTP/2: cleartext with prior knowledge (h2c) by default, TLS when the
// probe sets sni or verify_tls. Each probe opens a new connection. Safe for
// concurrent use.
type GRPC struct {
	// Immutable after NewGRPC.
	scheme         string // "http" (h2c) or "https"
	sni            string // TLS server name; "" for the target's host
	verify         bool
	request        []byte // the framed HealthCheckRequest
	timeout        time.Duration
	connectTimeout time.Duration
	tr             *http.Transport

	// roots, when not nil, replaces the system's roots for verify_tls.
	// Tests set it before the first Check; it is read at each TLS dial.
	roots *x509.CertPool
}

// NewGRPC builds the checker of a grpc probe. It does no I/O.
func NewGRPC(p *model.Probe) (*GRPC, error) {
	if p == nil {
		return nil, errors.New("health: no probe")
	}
	if p.Type != model.CheckGRPC {
		return nil, fmt.Errorf("health: a %q probe is not a grpc probe", p.Type)
	}
	c := &GRPC{
		scheme:         "http",
		sni:            p.SNI,
		verify:         p.VerifyTLS,
		request:        healthCheckRequest(p.Service),
		timeout:        p.Timeout.D(),
		connectTimeout: p.ConnectTimeout.D(),
	}
	// net/http speaks HTTP/2 itself, h2c included (Go 1.24), with trailers;
	// golang.org/x/net/http2's AllowHTTP and DialTLSContext, the older way
	// to do h2c, are deprecated in its favour.
	var protocols http.Protocols
	if c.sni != "" || c.verify {
		c.scheme = "https"
		protocols.SetHTTP2(true)
	} else {
		protocols.SetUnencryptedHTTP2(true)
	}
	c.tr = &http.Transport{
		Proxy: nil, // never through a proxy from the environment
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dial(ctx, addr, c.connectTimeout, nil)
		},
		DialTLSContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, &connectError{addr: addr, err: err}
			}
			return dial(ctx, addr, c.connectTimeout, tlsConfig(c.sni, host, c.verify, c.roots, "h2"))
		},
		DisableKeepAlives:      true, // a new connection per probe tests accept too
		DisableCompression:     true,
		MaxResponseHeaderBytes: maxResponseHeaderBytes,
		Protocols:              &protocols,
	}
	return c, nil
}

// healthCheckRequest frames HealthCheckRequest{service = 1} as a gRPC
// message: a zero compression flag, a 4-byte big-endian length, and the
// protobuf bytes (tag 0x0a: field 1, length-delimited), which are none at
// all for the empty service.
func healthCheckRequest(service string) []byte {
	var pb []byte
	if service != "" {
		pb = append(pb, 0x0a)
		pb = binary.AppendUvarint(pb, uint64(len(service)))
		pb = append(pb, service...)
	}
	msg := make([]byte, 5, 5+len(pb))
	binary.BigEndian.PutUint32(msg[1:], uint32(len(pb)))
	return append(msg, pb...)
}

// Close closes idle connections; there are none between probes, as each
// probe has its own, so Close exists for symmetry with HTTP. Check may still
// be called afterwards.
func (c *GRPC) Close() { c.tr.CloseIdleConnections() }

// Check asks t for the health of the configured service.
//
// Reasons: "SERVING" when healthy; otherwise "NOT_SERVING",
// "SERVICE_UNKNOWN", "UNKNOWN", "grpc status 12: unknown service
// grpc.health.v1.Health" (a gRPC error, with its grpc-message), "http status
// 404" (not a gRPC server), the connect, TLS and timeout reasons of HTTP, or
// "reading response: …". Latency is the time to the response headers, or to
// the failure.
func (c *GRPC) Check(ctx context.Context, t Target) Result {
	start := time.Now()
	ctx, cancel, budget := probeBudget(ctx, c.timeout, start)
	defer cancel()
	ctx, a := withAttempt(ctx)
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { a.phase.Store(phaseConnected) },
	})

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.scheme+"://"+t.Addr()+grpcHealthPath, bytes.NewReader(c.request))
	if err != nil {
		return Result{Reason: "request: " + err.Error(), Latency: time.Since(start)}
	}
	if c.sni != "" {
		req.Host = net.JoinHostPort(c.sni, strconv.Itoa(t.Port)) // :authority
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", userAgent)
	if dl, ok := ctx.Deadline(); ok {
		// Tell the server when we stop listening (gRPC over HTTP/2:
		// "grpc-timeout", at most 8 digits and a unit; m is milliseconds).
		req.Header.Set("Grpc-Timeout", strconv.FormatInt(max(time.Until(dl).Milliseconds(), 1), 10)+"m")
	}

	resp, err := c.tr.RoundTrip(req)
	latency := time.Since(start)
	if err != nil {
		if ctx.Err() == nil {
			var ce *connectError
			if !errors.As(err, &ce) {
				return Result{Reason: "reading response: " + err.Error(), Latency: latency}
			}
		}
		return Result{Reason: failure(ctx, a, budget, "reading response", err), Latency: latency}
	}
	defer resp.Body.Close()

	// A gRPC error usually comes "trailers-only": grpc-status in the headers.
	if code := resp.Header.Get("Grpc-Status"); code != "" {
		return Result{Reason: grpcError(code, resp.Header.Get("Grpc-Message")), Latency: latency}
	}
	if resp.StatusCode != http.StatusOK {
		return Result{Reason: "http status " + strconv.Itoa(resp.StatusCode), Latency: latency}
	}
	msg, err := readGRPCMessage(resp.Body)
	if err == nil {
		// The status is in the trailers, which come at the end of the body.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	}
	if err != nil {
		return Result{Reason: failure(ctx, a, budget, "reading response", err), Latency: time.Since(start)}
	}
	if code := resp.Trailer.Get("Grpc-Status"); code != "0" {
		return Result{Reason: grpcError(code, resp.Trailer.Get("Grpc-Message")), Latency: latency}
	}
	if msg == nil {
		return Result{Reason: "reading response: no HealthCheckResponse", Latency: latency}
	}
	status, err := servingStatus(msg)
	if err != nil {
		return Result{Reason: "reading response: " + err.Error(), Latency: latency}
	}
	return Result{Healthy: status == servingStatusServing, Reason: servingStatusName(status), Latency: latency}
}

// grpcError is the reason for a gRPC status other than OK, as in "grpc
// status 12: unknown service grpc.health.v1.Health". grpc-message is
// percent-encoded.
func grpcError(code, message string) string {
	if code == "" {
		return "reading response: no grpc-status"
	}
	r := "grpc status " + code
	if m, err := url.PathUnescape(message); err == nil {
		message = m
	}
	if message != "" {
		r += ": " + message
	}
	return r
}

// readGRPCMessage reads one length-prefixed gRPC message from r; nil if the
// body ends first.
func readGRPCMessage(r io.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	if hdr[0] != 0 {
		return nil, errors.New("compressed message, which was not asked for")
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n > maxGRPCMessage {
		return nil, fmt.Errorf("message of %d bytes, want at most %d", n, maxGRPCMessage)
	}
	msg := make([]byte, 5+n)[5:] // never nil, even when empty
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
}

// HealthCheckResponse.ServingStatus values (grpc.health.v1).
const (
	servingStatusUnknown        = 0
	servingStatusServing        = 1
	servingStatusNotServing     = 2
	servingStatusServiceUnknown = 3
)

// servingStatusName names a ServingStatus as the proto does.
func servingStatusName(s uint64) string {
	switch s {
	case servingStatusUnknown:
		return "UNKNOWN"
	case servingStatusServing:
		return "SERVING"
	case servingStatusNotServing:
		return "NOT_SERVING"
	case servingStatusServiceUnknown:
		return "SERVICE_UNKNOWN"
	}
	return "serving status " + strconv.FormatUint(s, 10)
}

// servingStatus decodes HealthCheckResponse{status = 1 (enum, varint)},
// skipping fields it does not know. A missing status is UNKNOWN (0), the
// protobuf default.
func servingStatus(msg []byte) (uint64, error) {
	var status uint64
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, errors.New("bad protobuf field key")
		}
		msg = msg[n:]
		field, wire := key>>3, key&7
		var skip uint64
		switch wire {
		case 0: // varint
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, fmt.Errorf("bad protobuf varint in field %d", field)
			}
			if field == 1 {
				status = v
			}
			skip = uint64(n)
		case 1: // 64-bit
			skip = 8
		case 2: // length-delimited
			l, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, fmt.Errorf("bad protobuf length in field %d", field)
			}
			msg = msg[n:]
			skip = l
		case 5: // 32-bit
			skip = 4
		default:
			return 0, fmt.Errorf("protobuf wire type %d in field %d", wire, field)
		}
		if skip > uint64(len(msg)) {
			return 0, fmt.Errorf("protobuf field %d runs past the message", field)
		}
		msg = msg[skip:]
	}
	return status, nil
}
