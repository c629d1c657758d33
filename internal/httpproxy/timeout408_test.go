package httpproxy

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard/switchboard/internal/model"
)

// TestRequestTimeout408: a client that begins a request head and does not
// finish it within the listener's idle timeout gets a 408 page and the
// connection closes (as ALB); a client that sends nothing is closed
// without an answer. Both on the event loop and on the goroutine path.
func TestRequestTimeout408(t *testing.T) {
	for _, noLoop := range []bool{false, true} {
		t.Run("noEventLoop="+strconv.FormatBool(noLoop), func(t *testing.T) {
			b := newBackend(t, "a", nil)
			e := newEnv(t, "", func(st *model.State) {
				st.TargetGroups[0].Targets = []model.Target{b.target("a")}
				st.LoadBalancers[0].Listeners[0].IdleTimeout = model.Duration(time.Second)
			}, noEventLoop(noLoop))
			e.get("/") // serving
			addr := "127.0.0.1:" + strconv.Itoa(e.port)
			read := func(send string) string {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				if send != "" {
					if _, err := io.WriteString(c, send); err != nil {
						t.Fatal(err)
					}
				}
				c.SetReadDeadline(time.Now().Add(10 * time.Second))
				got, err := io.ReadAll(c)
				if err != nil {
					t.Fatalf("reading after sending %q: %v (got %q)", send, err, got)
				}
				return string(got)
			}
			got := read("GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: slo")
			if !strings.HasPrefix(got, "HTTP/1.1 408 Request Timeout\r\n") || !strings.Contains(got, "Connection: close\r\n") || !strings.Contains(got, "did not arrive whole") {
				t.Errorf("a half-sent head got %q; want a 408 page that closes the connection", got)
			}
			if got := read(""); got != "" {
				t.Errorf("a client that sent nothing got %q; want the connection closed without an answer", got)
			}
		})
	}
}
