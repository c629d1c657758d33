package httpproxy

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// readParsed runs the fast path's reader over an answer to method: the
// head as peeked from a read buffer, then parseResponse, then the body.
func readParsed(s, method string) (*http.Response, string, error) {
	br := bufio.NewReaderSize(strings.NewReader(s), 16<<10)
	head, err := peekResponseHead(br)
	if err != nil {
		return nil, "", err
	}
	var resp http.Response
	var vals [16]string
	if err := parseResponse(head, method, &resp, http.Header{}, vals[:0]); err != nil {
		return nil, "", err
	}
	br.Discard(len(head))
	lim := h1limited{br: br, n: resp.ContentLength}
	if method == http.MethodHead || lim.n < 0 {
		lim.n = 0
	}
	body, err := io.ReadAll(&lim)
	return &resp, string(body), err
}

func TestParseResponse(t *testing.T) {
	for _, tt := range []struct {
		name, in, method string
		status           int
		cl               int64
		close            bool
		header           http.Header
		body             string
	}{
		{name: "plain", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
			status: 200, cl: 5, body: "hello",
			header: http.Header{"Content-Length": {"5"}, "Content-Type": {"text/plain"}}},
		{name: "pipelined bytes stay", in: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabHTTP/1.1 200 OK\r\n",
			status: 200, cl: 2, body: "ab", header: http.Header{"Content-Length": {"2"}}},
		{name: "names canonical, values trimmed, repeated", in: "HTTP/1.1 404 Not Found\r\nset-cookie: a=1\r\nSet-Cookie:  b=2 \t\r\nx-a-b:\tv\r\ncontent-length: 0\r\n\r\n",
			status: 404, cl: 0,
			header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-A-B": {"v"}, "Content-Length": {"0"}}},
		{name: "close", in: "HTTP/1.1 503 Service Unavailable\r\nConnection: keep-alive, Close\r\nContent-Length: 1\r\n\r\nx",
			status: 503, cl: 1, close: true, body: "x",
			header: http.Header{"Content-Length": {"1"}}}, // net/http drops Connection when it says close
		{name: "no reason", in: "HTTP/1.1 204\r\n\r\n", status: 204, cl: 0, header: http.Header{}},
		{name: "304 with a length has no body", in: "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
			status: 304, cl: 0, header: http.Header{"Content-Length": {"10"}}},
		{name: "HEAD with a length has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD",
			status: 200, cl: 10, header: http.Header{"Content-Length": {"10"}}},
		{name: "HEAD without a length", in: "HTTP/1.1 200 OK\r\n\r\n", method: "HEAD",
			status: 200, cl: -1, header: http.Header{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			resp, body, err := readParsed(tt.in, method)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if resp.StatusCode != tt.status || resp.ContentLength != tt.cl || resp.Close != tt.close || body != tt.body || resp.ProtoMajor != 1 || resp.ProtoMinor != 1 {
				t.Errorf("got %d cl %d close %v body %q proto %d.%d, want %d cl %d close %v body %q proto 1.1",
					resp.StatusCode, resp.ContentLength, resp.Close, body, resp.ProtoMajor, resp.ProtoMinor, tt.status, tt.cl, tt.close, tt.body)
			}
			if !sameHeader(resp.Header, tt.header) {
				t.Errorf("header %v, want %v", resp.Header, tt.header)
			}
		})
	}
}

// TestParseResponseFallback: what the in-place parser leaves to net/http.
func TestParseResponseFallback(t *testing.T) {
	for _, in := range []string{
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\nup to the close",
		"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
		"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : a\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX-Long: " + strings.Repeat("a", 17<<10) + "\r\n\r\n",
		"garbage\r\n\r\n",
	} {
		if _, _, err := readParsed(in, "GET"); !errors.Is(err, errFallback) {
			t.Errorf("%.60q: err %v, want errFallback", in, err)
		}
	}
	if _, _, err := readParsed("", "GET"); err != io.EOF {
		t.Errorf("no answer at all: err %v, want io.EOF", err)
	}
	if _, _, err := readParsed("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", "GET"); err != io.ErrUnexpectedEOF {
		t.Errorf("body cut short: err %v, want io.ErrUnexpectedEOF", err)
	}
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range b {
		if strings.Join(a[k], "\x00") != strings.Join(v, "\x00") || len(a[k]) != len(v) {
			return false
		}
	}
	return true
}

// FuzzParseResponse: whatever the in-place parser accepts, net/http's
// ReadResponse reads alike (status, header, length, close, body).
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
		"HTTP/1.1 404 Not Found\r\nset-cookie: a=1\r\nSet-Cookie:  b=2 \t\r\nx-a-b:\tv\r\ncontent-length: 0\r\n\r\n",
		"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 1\r\n\r\nxyz",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 204\r\nTrailer: X\r\n\r\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, body, err := readParsed(s, method)
		if err != nil {
			return
		}
		want, err := http.ReadResponse(bufio.NewReader(strings.NewReader(s)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("fast path accepted %q; net/http refused it: %v", s, err)
		}
		wantBody, err := io.ReadAll(want.Body)
		if err != nil {
			t.Fatalf("%q: net/http could not read the body the fast path read: %v", s, err)
		}
		if resp.StatusCode != want.StatusCode || resp.Status != want.Status || resp.ContentLength != want.ContentLength ||
			resp.Close != want.Close || body != string(wantBody) || resp.ProtoMajor != want.ProtoMajor || resp.ProtoMinor != want.ProtoMinor {
			t.Fatalf("%q: fast path %q cl %d close %v body %q; net/http %q cl %d close %v body %q",
				s, resp.Status, resp.ContentLength, resp.Close, body, want.Status, want.ContentLength, want.Close, wantBody)
		}
		if !sameHeader(resp.Header, want.Header) {
			t.Fatalf("%q: fast path header %v, net/http %v", s, resp.Header, want.Header)
		}
	})
}

// TestRemoveHop: hop-by-hop headers go, and those Connection names, both
// on a short header (walked) and a long one (deleted by name).
func TestRemoveHop(t *testing.T) {
	for _, k := range hopHeaders {
		if !isHop(k) {
			t.Errorf("isHop(%q) = false", k)
		}
	}
	for _, extra := range []int{0, 12} {
		h := http.Header{
			"Connection": {"close, X-Private"}, "X-Private": {"1"}, "Keep-Alive": {"timeout=5"},
			"Te": {"trailers"}, "Upgrade": {"h2c"}, "X-Keep": {"yes"},
		}
		for i := range extra {
			h["X-Extra-"+string(rune('A'+i))] = []string{"v"}
		}
		removeHop(h)
		if len(h) != 1+extra || h.Get("X-Keep") != "yes" {
			t.Errorf("with %d more headers: left %v, want X-Keep and the extra ones", extra, h)
		}
	}
}
