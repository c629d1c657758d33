package httpproxy

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard/switchboard/internal/model"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAccessLog: one JSON line per logged request with the fields the
// docs promise, every AccessLogEvery-th request.
func TestAccessLog(t *testing.T) {
	b := newBackend(t, "a", nil)
	e := newEnv(t, "a", func(st *model.State) { st.TargetGroups[0].Targets = []model.Target{b.target("a")} })
	var buf syncBuffer
	e.p.cfg.AccessLog = slog.New(slog.NewJSONHandler(&buf, nil))
	e.p.cfg.AccessLogEvery = 2
	for range 4 {
		e.get("/x")
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("access log has %d lines for 4 requests at every 2nd, want 2:\n%s", len(lines), buf.String())
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"listener": "lb:" + strconv.Itoa(e.port), "rule": "default", "target_group": "web",
		"target": b.addr.String(), "zone": "a", "status": float64(200), "bytes": float64(1), "path": "/x"} {
		if rec[k] != want {
			t.Errorf("access log %s = %v, want %v", k, rec[k], want)
		}
	}
	for _, k := range []string{"duration_seconds", "upstream_seconds", "request_id", "client"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("access log has no %s: %s", k, lines[0])
		}
	}
}
