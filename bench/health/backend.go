package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// backend serves GET /healthz → 200 "ok" on one listener per loopback
// address, and a control API on its own listener:
//
//	GET  /targets               the listeners' host:port, one a line
//	GET  /stats                 {"requests": n, "cpu_seconds": s} of this process
//	POST /stop?addr=A&how=H     make listener A stop answering: how=close
//	                            closes it and its connections (connect refused),
//	                            how=hang accepts but never answers
type backend struct {
	// Immutable after serveBackend has started them.
	targets []*target

	requests atomic.Uint64
}

// target is one listener.
type target struct {
	addr string
	srv  *http.Server
	hang atomic.Bool
}

var ok = []byte("ok")

func serveBackend(n int, ready string) error {
	b := &backend{}
	quiet := log.New(io.Discard, "", 0)
	for i := 1; i <= n; i++ {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i))
		if err != nil {
			return fmt.Errorf("backend: %w", err)
		}
		t := &target{addr: ln.Addr().String()}
		t.srv = &http.Server{
			Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { b.serveHealth(t, w, r) }),
			ReadHeaderTimeout: 10 * time.Second,
			// Accept errors (EMFILE under load) would drown the output.
			ErrorLog: quiet,
		}
		b.targets = append(b.targets, t)
		go t.srv.Serve(ln) // ends with Close; the process ends with the run
	}
	ctl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("backend: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /targets", b.serveTargets)
	mux.HandleFunc("GET /stats", b.serveStats)
	mux.HandleFunc("POST /stop", b.serveStop)
	srv := &http.Server{Handler: mux, ErrorLog: quiet}
	if ready != "" {
		// Written whole, then renamed, so that a reader never sees half of it.
		if err := os.WriteFile(ready+".tmp", []byte(ctl.Addr().String()+"\n"), 0o644); err != nil {
			return fmt.Errorf("backend: %w", err)
		}
		if err := os.Rename(ready+".tmp", ready); err != nil {
			return fmt.Errorf("backend: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	context.AfterFunc(ctx, func() { srv.Close() })
	if err := srv.Serve(ctl); err != http.ErrServerClosed {
		return fmt.Errorf("backend: %w", err)
	}
	return nil
}

func (b *backend) serveHealth(t *target, w http.ResponseWriter, r *http.Request) {
	b.requests.Add(1)
	if t.hang.Load() {
		<-r.Context().Done() // the prober gives up; we never answer
		return
	}
	if r.URL.Path != "/healthz" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Write(ok)
}

func (b *backend) serveTargets(w http.ResponseWriter, _ *http.Request) {
	for _, t := range b.targets {
		fmt.Fprintln(w, t.addr)
	}
}

// stats is the answer of GET /stats.
type stats struct {
	Requests   uint64  `json:"requests"`
	CPUSeconds float64 `json:"cpu_seconds"`
}

func (b *backend) serveStats(w http.ResponseWriter, _ *http.Request) {
	json.NewEncoder(w).Encode(stats{Requests: b.requests.Load(), CPUSeconds: cpuSeconds()})
}

func (b *backend) serveStop(w http.ResponseWriter, r *http.Request) {
	addr, how := r.URL.Query().Get("addr"), r.URL.Query().Get("how")
	for _, t := range b.targets {
		if t.addr != addr {
			continue
		}
		switch how {
		case "close":
			t.srv.Close()
		case "hang":
			t.hang.Store(true)
		default:
			http.Error(w, "how must be close or hang", http.StatusBadRequest)
		}
		return
	}
	http.Error(w, "no such target", http.StatusNotFound)
}

// ctlClient talks to a backend's control API.
type ctlClient struct {
	base string
	c    *http.Client
}

func newCtlClient(addr string) *ctlClient {
	return &ctlClient{base: "http://" + addr, c: &http.Client{Timeout: 5 * time.Second}}
}

func (c *ctlClient) do(ctx context.Context, method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("backend control: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("backend control: %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("backend control: %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}

func (c *ctlClient) targets(ctx context.Context) ([]string, error) {
	body, err := c.do(ctx, http.MethodGet, "/targets")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(body)), nil
}

func (c *ctlClient) stats(ctx context.Context) (stats, error) {
	var s stats
	body, err := c.do(ctx, http.MethodGet, "/stats")
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("backend control: /stats: %w", err)
	}
	return s, nil
}

func (c *ctlClient) stop(ctx context.Context, addr, how string) error {
	_, err := c.do(ctx, http.MethodPost, "/stop?addr="+url.QueryEscape(addr)+"&how="+how)
	return err
}
