package httpproxy

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// errorText says, for each status the proxy makes up, what went wrong and
// what the reader can do. The fault is ours (or our targets'), never the
// client's, except for the 4xx.
var errorText = map[int][2]string{
	http.StatusBadGateway: {"Bad gateway",
		"The service behind this address closed the connection or sent an answer we could not read. The fault is on our side. Please try again in a moment."},
	http.StatusServiceUnavailable: {"Service unavailable",
		"No server behind this address can take requests right now. The fault is on our side and we route around it automatically. Please try again in a minute."},
	http.StatusGatewayTimeout: {"Gateway timeout",
		"The service behind this address did not answer in time. The fault is on our side. Please try again; if the request changes data, check first whether it took effect."},
	http.StatusRequestEntityTooLarge: {"Request too large",
		"The request body is longer than this address accepts. Send a smaller body, or split it into several requests."},
	http.StatusRequestTimeout: {"Request timeout",
		"Your request did not arrive whole within this address's idle timeout. Please check your connection and try again."},
}

// answer408 is the whole answer to a client that began a request head and
// did not finish it within the listener's idle timeout (as ALB: 408). No
// request was read, so it is HTML and closes the connection.
var answer408 = staticAnswer(http.StatusRequestTimeout)

// staticAnswer renders writeError's page for status, with no request, as
// the bytes of an HTTP/1.1 answer that closes the connection.
func staticAnswer(status int) []byte {
	w := &staticWriter{h: http.Header{}}
	writeError(w, nil, status, "")
	b := fmt.Appendf(nil, "HTTP/1.1 %d %s\r\n", w.status, http.StatusText(w.status))
	for _, k := range slices.Sorted(maps.Keys(w.h)) {
		for _, v := range w.h[k] {
			b = fmt.Appendf(b, "%s: %s\r\n", k, v)
		}
	}
	b = append(b, "Connection: close\r\n\r\n"...)
	return append(b, w.body...)
}

// staticWriter keeps what writeError writes.
type staticWriter struct {
	h      http.Header
	status int
	body   []byte
}

func (w *staticWriter) Header() http.Header    { return w.h }
func (w *staticWriter) WriteHeader(status int) { w.status = status }
func (w *staticWriter) Write(p []byte) (int, error) {
	w.body = append(w.body, p...)
	return len(p), nil
}

// grpcCodes maps our statuses to gRPC codes for gRPC clients.
var grpcCodes = map[int]string{
	http.StatusBadGateway:            "14", // UNAVAILABLE
	http.StatusServiceUnavailable:    "14",
	http.StatusGatewayTimeout:        "4", // DEADLINE_EXCEEDED
	http.StatusRequestEntityTooLarge: "8", // RESOURCE_EXHAUSTED
}

// writeError answers with a proxy error page, in JSON when the client
// accepts JSON and HTML otherwise; gRPC clients get the matching gRPC
// status instead. group names the target group, when known, for the
// X-Switchboard-Error header (not shown to people). It returns status. r
// may be nil (after a failed upgrade).
func writeError(w http.ResponseWriter, r *http.Request, status int, group string) int {
	text, ok := errorText[status]
	if !ok {
		text = [2]string{http.StatusText(status), "The request could not be handled."}
	}
	h := w.Header()
	if group != "" {
		h["X-Switchboard-Target-Group"] = []string{group}
	}
	if r != nil && strings.HasPrefix(r.Header.Get("Content-Type"), "application/grpc") {
		h["Content-Type"] = []string{"application/grpc"}
		h["Grpc-Status"] = []string{grpcCodes[status]}
		h["Grpc-Message"] = []string{strconv.Itoa(status) + " " + text[0]}
		w.WriteHeader(http.StatusOK)
		return status
	}
	h["Cache-Control"] = []string{"no-store"}
	var body string
	if r != nil && strings.Contains(r.Header.Get("Accept"), "application/json") {
		h["Content-Type"] = []string{"application/json"}
		body = `{"status":` + strconv.Itoa(status) + `,"error":` + strconv.Quote(text[0]) + `,"detail":` + strconv.Quote(text[1]) + "}\n"
	} else {
		h["Content-Type"] = []string{"text/html; charset=utf-8"}
		body = "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" + strconv.Itoa(status) + " " + text[0] +
			"</title></head>\n<body><h1>" + text[0] + "</h1>\n<p>" + text[1] + "</p>\n<p><small>" + strconv.Itoa(status) + " from switchboard</small></p></body></html>\n"
	}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
	return status
}
