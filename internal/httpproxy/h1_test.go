package httpproxy

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

// TestFastPathStaleConnection: a pooled connection the target closed while
// idle is replaced by a new one, invisibly to the client.
func TestFastPathStaleConnection(t *testing.T) {
	b := newBackend(t, "a", nil)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	for i := range 3 {
		if resp, body := e.get("/"); resp.StatusCode != 200 || body != "a" {
			t.Fatalf("GET #%d = %d %q, want 200 a", i, resp.StatusCode, body)
		}
		b.srv.CloseClientConnections() // the target drops its idle connections
	}
	if n := e.rec.count(b.addr, 1) + e.rec.count(b.addr, 2); n != 0 {
		t.Errorf("%d failures reported for a target that only closed idle connections", n)
	}
}

// TestFastPathInformational: a 103 Early Hints before the answer is
// skipped; the body arrives whole, chunked or not, and HEAD has none.
func TestFastPathInformational(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hints" {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
		}
		w.Header().Set("X-Path", r.URL.Path)
		if r.URL.Path == "/chunked" {
			for range 3 {
				io.WriteString(w, "chunk ")
				w.(http.Flusher).Flush()
			}
			return
		}
		io.WriteString(w, "body")
	})
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	for _, tt := range []struct{ method, path, want string }{
		{"GET", "/hints", "body"}, {"GET", "/chunked", "chunk chunk chunk "}, {"HEAD", "/x", ""}, {"GET", "/after-head", "body"},
	} {
		req, _ := http.NewRequest(tt.method, e.url(tt.path), nil)
		resp, body := e.do(req)
		if resp.StatusCode != 200 || body != tt.want || resp.Header.Get("X-Path") != tt.path {
			t.Errorf("%s %s = %d %q (X-Path %q), want 200 %q", tt.method, tt.path, resp.StatusCode, body, resp.Header.Get("X-Path"), tt.want)
		}
	}
}

// TestFastPathTargetDiesInFlight: an idempotent request in flight on a
// kept-alive connection to a target that dies is sent again, to another
// target, and the client sees no error.
func TestFastPathTargetDiesInFlight(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	held := make(chan struct{}, 4)
	a := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			held <- struct{}{}
			<-release
		}
		io.WriteString(w, "a")
	})
	b := newBackend(t, "b", nil)
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{a.target("a"), b.target("a")} })
	e.spread(4) // a pooled connection to each
	type result struct {
		status int
		body   string
	}
	got := make(chan result, 4)
	send := func() {
		resp, err := e.cli.Get(e.url("/hold"))
		if err != nil {
			got <- result{0, err.Error()}
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- result{resp.StatusCode, string(body)}
	}
	go send()
	select {
	case <-held:
	case r := <-got: // went to b: the next one goes to a
		if r.status != 200 {
			t.Fatalf("GET /hold = %v", r)
		}
		go send()
		<-held
	}
	a.srv.Listener.Close()
	a.srv.CloseClientConnections()
	if r := <-got; r.status != 200 || r.body != "b" {
		t.Errorf("request in flight on a target that died = %d %q, want 200 from b", r.status, r.body)
	}
}

// TestFastPathConcurrentReuse: many clients at once on few pooled
// connections; every answer is whole and the right one (a body closed late
// must not close a connection another request took from the pool).
func TestFastPathConcurrentReuse(t *testing.T) {
	b := newBackend(t, "a", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) })
	e := newEnv(t, "", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	e.p.cfg.MaxIdlePerTarget = 2
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				path := "/" + strconv.Itoa(i) + "/" + strconv.Itoa(j)
				resp, err := e.cli.Get(e.url(path))
				if err != nil {
					errs <- err.Error()
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(body) != path {
					errs <- resp.Status + " " + string(body) + " for " + path
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
