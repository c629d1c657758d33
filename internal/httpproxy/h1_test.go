package httpproxy

import (
	"io"
	"net/http"
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
