package httpproxy

import (
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/health"
)

// ServeHTTP routes one request by the listener's current table.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.serve(w, r, clientConn(r))
}

// serve routes r from the client connection ci.
func (l *listener) serve(w http.ResponseWriter, r *http.Request, ci *connInfo) {
	// Timings are for the access log only: without one, no clock reads.
	var start time.Time
	if l.p.cfg.AccessLog != nil {
		start = time.Now()
	}
	tab := l.tab.Load()
	src := ci.addr
	ru := tab.match(r, hostOnly(r.Host), src)
	ex := exchange{tab: tab, rule: ru, start: start, status: 0}
	switch {
	case l.p.cfg.MaxBodyBytes > 0 && r.ContentLength > l.p.cfg.MaxBodyBytes:
		ex.status = writeError(w, r, http.StatusRequestEntityTooLarge, "")
	case ru.fixed != nil:
		f := ru.fixed
		h := w.Header()
		h["Content-Type"] = []string{f.contentType}
		h["Content-Length"] = []string{strconv.Itoa(len(f.body))}
		w.WriteHeader(f.status)
		n, _ := w.Write(f.body)
		ex.status, ex.bytes = f.status, int64(n)
	case ru.redirect != nil:
		loc := ru.redirect.location(r, tab)
		w.Header()["Location"] = []string{loc}
		w.WriteHeader(ru.redirect.status)
		ex.status = ru.redirect.status
	default:
		l.p.forward(w, r, &ex, ci)
	}
	if al := l.p.cfg.AccessLog; al != nil && l.p.logSeq.Add(1)%uint64(l.p.cfg.AccessLogEvery) == 0 {
		ex.log(al, r, src)
	}
}

// exchange is what the access log says about one request.
type exchange struct {
	tab       *table
	rule      *rule
	group     string
	target    netip.AddrPort
	zone      string
	status    int
	bytes     int64
	start     time.Time
	upstream  time.Duration // until the target's response header
	retried   bool
	requestID string
}

func (ex *exchange) log(al *slog.Logger, r *http.Request, src netip.Addr) {
	attrs := []slog.Attr{
		slog.String("listener", ex.tab.name), slog.String("rule", ex.rule.name),
		slog.String("client", src.String()), slog.String("method", r.Method), slog.String("host", r.Host),
		slog.String("path", r.URL.Path), slog.String("proto", r.Proto), slog.Int("status", ex.status),
		slog.Int64("bytes", ex.bytes), slog.Float64("duration_seconds", time.Since(ex.start).Seconds()),
	}
	if ex.group != "" {
		attrs = append(attrs, slog.String("target_group", ex.group), slog.String("target", ex.target.String()),
			slog.String("zone", ex.zone), slog.Float64("upstream_seconds", ex.upstream.Seconds()),
			slog.Bool("retried", ex.retried), slog.String("request_id", ex.requestID))
	}
	al.LogAttrs(context.Background(), slog.LevelInfo, "request", attrs...)
}

// connInfo is what the proxy computes once per client connection.
type connInfo struct {
	addr netip.Addr
	xff  []string // {addr}: X-Forwarded-For of a request without one; read-only
	// scratch is per-request room that the connection's next request
	// reuses: set by the fast path for clients, whose requests follow one
	// another; nil under net/http's server, where HTTP/2 streams overlap.
	scratch *scratch
}

// scratch holds what forward would otherwise allocate for every request
// that takes the fast path at both ends; nothing refers to it once
// forward returns.
type scratch struct {
	vals [24]string // the request header's values
	out  outgoing
	rid  [1]string
	// ridBuf holds the event loop's request id when it makes one.
	ridBuf [32]byte
	resp   h1resp
}

type connInfoKey struct{}

// withConnInfo is the listener's ConnContext.
func withConnInfo(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connInfoKey{}, newConnInfo(c))
}

func newConnInfo(c net.Conn) *connInfo {
	ci := &connInfo{}
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		ci.addr = ap.Addr().Unmap()
		ci.xff = []string{ci.addr.String()}
	}
	return ci
}

// clientConn returns r's connection info.
func clientConn(r *http.Request) *connInfo {
	if ci, ok := r.Context().Value(connInfoKey{}).(*connInfo); ok {
		return ci
	}
	ci := &connInfo{}
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		ci.addr = ap.Addr().Unmap()
		ci.xff = []string{ci.addr.String()}
	}
	return ci
}

// location expands the redirect's placeholders for r.
func (rd *redirect) location(r *http.Request, t *table) string {
	proto := "http"
	if t.https {
		proto = "https"
	}
	vars := strings.NewReplacer(
		"#{protocol}", proto,
		"#{host}", hostOnly(r.Host),
		"#{port}", strconv.Itoa(t.port),
		"#{path}", strings.TrimPrefix(r.URL.Path, "/"),
		"#{query}", r.URL.RawQuery,
	)
	scheme := strings.ToLower(vars.Replace(rd.protocol))
	host := vars.Replace(rd.host)
	port := vars.Replace(rd.port)
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	b.WriteString(host)
	if !(scheme == "http" && port == "80") && !(scheme == "https" && port == "443") && port != "" {
		b.WriteString(":")
		b.WriteString(port)
	}
	b.WriteString(vars.Replace(rd.path))
	if q := vars.Replace(rd.query); q != "" {
		b.WriteString("?")
		b.WriteString(q)
	}
	return b.String()
}

// chooseGroup picks the forward's target group: by the group-stickiness
// cookie when it names one, else by weight. It reports whether a new
// stickiness cookie must be set.
func (f *forward) chooseGroup(r *http.Request) (int, bool) {
	if len(f.groups) == 1 {
		return 0, false
	}
	if f.sticky > 0 {
		if v, ok := cookieValue(r, f.cookie); ok {
			if i, err := strconv.Atoi(v); err == nil && i >= 0 && i < len(f.groups) {
				return i, false
			}
		}
	}
	if f.total <= 0 {
		return 0, f.sticky > 0
	}
	u := rand.IntN(f.total)
	for i, c := range f.weights {
		if u < c {
			return i, f.sticky > 0
		}
	}
	return len(f.groups) - 1, f.sticky > 0
}

// cookieValue finds cookie name in r without allocating.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if k, v, ok := strings.Cut(part, "="); ok && k == name {
				return strings.Trim(strings.TrimSpace(v), `"`), true
			}
		}
	}
	return "", false
}

// hint is g's consistent-hash key for r.
func (g *group) hint(r *http.Request, src netip.Addr) balance.Hint {
	switch {
	case g.hashHeader != "":
		if v := r.Header[g.hashHeader]; len(v) > 0 {
			return balance.Hint{Key: balance.HashString(v[0]), HasKey: true}
		}
	case g.hashCookie != "":
		if v, ok := cookieValue(r, g.hashCookie); ok {
			return balance.Hint{Key: balance.HashString(v), HasKey: true}
		}
	case g.hashSource:
		if src.IsValid() {
			return balance.Hint{Key: balance.HashAddr(src), HasKey: true}
		}
	}
	return balance.Hint{}
}

// stuck returns the routable target r's stickiness cookie names, if any.
func (g *group) stuck(r *http.Request) *balance.Endpoint {
	if g.sticky == "" {
		return nil
	}
	if g.appCookie != "" {
		if _, ok := cookieValue(r, g.appCookie); !ok {
			return nil
		}
	}
	v, ok := cookieValue(r, g.cookie)
	if !ok || len(v) != 16 {
		return nil
	}
	var b [8]byte
	if _, err := hex.Decode(b[:], []byte(v)); err != nil {
		return nil
	}
	h := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 | uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	addr, ok := g.byHash[h]
	if !ok {
		return nil
	}
	return g.bal.Find(addr)
}

func (g *group) stickyCookie(ep *balance.Endpoint) string {
	h := targetHash(ep.Addr)
	var b [8]byte
	for i := range 8 {
		b[i] = byte(h >> (56 - 8*i))
	}
	return g.cookie + "=" + hex.EncodeToString(b[:]) + "; Path=/; Max-Age=" + strconv.Itoa(int(g.stickyTTL.Seconds())) + "; HttpOnly"
}

// hopHeaders are connection-specific headers a proxy must not forward
// (RFC 9110 section 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHop(h http.Header) {
	removeNamed(h, h["Connection"])
	if len(h) <= len(hopHeaders) {
		// A short header is cheaper to walk than nine deletions, each a
		// hash of its key.
		for k := range h {
			if isHop(k) {
				delete(h, k)
			}
		}
		return
	}
	for _, k := range hopHeaders {
		delete(h, k)
	}
}

// removeNamed deletes from h the headers that Connection values conn name.
func removeNamed(h http.Header, conn []string) {
	for _, c := range conn {
		for c != "" {
			var f string
			f, c, _ = strings.Cut(c, ",")
			switch f = strings.TrimSpace(f); {
			case f == "" || strings.EqualFold(f, "close"):
			case strings.EqualFold(f, "keep-alive"): // the common one, without a new string
				delete(h, "Keep-Alive")
			default:
				delete(h, http.CanonicalHeaderKey(f))
			}
		}
	}
}

// isHop reports whether k is one of hopHeaders.
func isHop(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade":
		return true
	}
	return false
}

// upgradeType is the protocol r asks to switch to, "" for none.
func upgradeType(h http.Header) string {
	for _, c := range h["Connection"] {
		if strings.Contains(strings.ToLower(c), "upgrade") {
			if u := h["Upgrade"]; len(u) > 0 {
				return u[0]
			}
		}
	}
	return ""
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// saneRequestID accepts 1–128 visible ASCII characters.
func saneRequestID(v []string) bool {
	if len(v) != 1 || len(v[0]) == 0 || len(v[0]) > 128 {
		return false
	}
	for i := 0; i < len(v[0]); i++ {
		if c := v[0][i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// newRequestID makes a request id: 32 hex digits of 128 random bits.
func newRequestID() string { return requestIDInto(new([32]byte)) }

// requestIDInto makes a request id in b, without allocating; the string
// is valid while b is not reused.
func requestIDInto(b *[32]byte) string {
	var raw [16]byte
	x, y := rand.Uint64(), rand.Uint64()
	for i := range 8 {
		raw[i], raw[8+i] = byte(x>>(8*i)), byte(y>>(8*i))
	}
	hex.Encode(b[:], raw[:])
	return unsafe.String(&b[0], len(b))
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Reasons reported to passive health; constants, so reporting allocates nothing.
const (
	reasonRefused = "connection refused"
	reasonConnect = "connect failed"
	reasonTimeout = "no response within request_timeout"
	reasonReset   = "connection reset or malformed response"
	reason5xx     = "5xx response"
)

// failure classifies a round-trip error: the status for the client, the
// outcome for passive health, and whether nothing reached the target (so an
// idempotent request may go to another).
func failure(err error) (status int, o health.Outcome, reason string, unsent bool) {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		if op.Timeout() {
			return http.StatusGatewayTimeout, health.ConnectFailure, reasonConnect, true
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return http.StatusBadGateway, health.ConnectFailure, reasonRefused, true
		}
		return http.StatusBadGateway, health.ConnectFailure, reasonConnect, true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusGatewayTimeout, health.Failure, reasonTimeout, false
	}
	return http.StatusBadGateway, health.Failure, reasonReset, false
}

func (p *Proxy) report(g string, a netip.AddrPort, o health.Outcome, reason string) {
	if p.cfg.Health != nil {
		p.cfg.Health.Report(g, a, o, reason)
	}
}

// forward sends r to a target of the rule's forward action and copies the
// answer back.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange, ci *connInfo) {
	src := ci.addr
	f := ex.rule.forward
	if len(f.groups) == 0 {
		ex.status = writeError(w, r, http.StatusServiceUnavailable, "")
		return
	}
	gi, setGroupCookie := f.chooseGroup(r)
	g := f.groups[gi]
	ex.group = g.name
	if g.bal == nil {
		ex.status = writeError(w, r, http.StatusServiceUnavailable, g.name)
		return
	}
	hint := g.hint(r, src)
	ep := g.stuck(r)
	if ep == nil {
		ep = g.bal.Pick(hint)
	}
	if ep == nil {
		ex.status = writeError(w, r, http.StatusServiceUnavailable, g.name)
		return
	}

	// The outgoing request shares the incoming one's header map, which we
	// own and change in place.
	h := r.Header
	upgrade := upgradeType(h)
	te := h["Te"]
	removeHop(h)
	if upgrade != "" {
		h["Connection"] = []string{"Upgrade"}
		h["Upgrade"] = []string{upgrade}
	}
	if len(te) > 0 && strings.EqualFold(te[0], "trailers") {
		h["Te"] = te
	}
	if src.IsValid() {
		if prior := h["X-Forwarded-For"]; len(prior) > 0 {
			h["X-Forwarded-For"] = []string{strings.Join(prior, ", ") + ", " + src.String()}
		} else {
			h["X-Forwarded-For"] = ci.xff
		}
	}
	h["X-Forwarded-Proto"] = ex.tab.xfProto
	h["X-Forwarded-Port"] = ex.tab.xfPort
	// Both ends on the fast path: the request's room is the connection's.
	sc := ci.scratch
	if g.grpc || upgrade != "" || !idempotent(r.Method) || r.Body != nil && r.Body != http.NoBody {
		sc = nil
	}
	rid := h["X-Request-Id"]
	if !saneRequestID(rid) {
		if sc != nil {
			sc.rid[0] = newRequestID()
			rid = sc.rid[:]
		} else {
			rid = []string{newRequestID()}
		}
		h["X-Request-Id"] = rid
	}
	ex.requestID = rid[0]
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = nil // do not let the transport add Go's
	}

	var o *outgoing
	var hr *h1resp
	if sc != nil {
		o, hr = &sc.out, &sc.resp
	} else {
		o = new(outgoing) // one allocation for the request and its URL
	}
	out, u := &o.req, &o.url
	*out = *r
	*u = *r.URL
	out.URL = u
	u.Scheme = "http"

	out.Close = false
	if r.ProtoMajor == 2 && r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	// RequestURI stays as the client sent it for the fast path's writer;
	// http.Transport refuses requests that carry one.
	fast := usesFastPath(out, g, upgrade)
	if !fast {
		out.RequestURI = ""
	}
	retryable := idempotent(r.Method) && upgrade == "" && (r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0)

	var resp *http.Response
	var be *backend
	var t0 time.Time
	if !ex.start.IsZero() {
		t0 = time.Now()
	}
	for attempt := 0; ; attempt++ {
		be = p.backend(ex.tab, g, ep.Addr)
		u.Host = be.hostport
		ex.target, ex.zone = ep.Addr, ep.Zone
		ep.Begin()
		be.begin()
		var sent time.Time
		if be.inst != nil {
			be.inst.Request()
			sent = time.Now()
		}
		var err error
		if fast {
			resp, err = be.roundTripH1(out, ex.tab.request, hr)
		} else {
			resp, err = be.tr.RoundTrip(out)
		}
		if err == nil {
			if be.inst != nil {
				be.inst.Response(resp.StatusCode, time.Since(sent))
			}
			break
		}
		if be.inst != nil {
			be.inst.Failed(time.Since(sent))
		}
		ep.Done()
		be.end()
		if r.Context().Err() != nil {
			ex.status = 499 // the client went away; not the target's fault
			return
		}
		status, o, reason, unsent := failure(err)
		p.report(g.name, ep.Addr, o, reason)
		if attempt == 0 && unsent && retryable {
			if next := g.bal.Next(hint, ep); next != nil {
				ep, ex.retried = next, true
				continue
			}
		}
		ex.status = writeError(w, r, status, g.name)
		return
	}
	if !t0.IsZero() {
		ex.upstream = time.Since(t0)
	}
	p.relay(w, ex, resp, answerCtx{f: f, gi: gi, setGroupCookie: setGroupCookie, g: g, ep: ep, be: be, rid: rid})
}

// answerCtx is what relaying an answer needs to know about its request.
type answerCtx struct {
	f              *forward
	gi             int
	setGroupCookie bool
	g              *group
	ep             *balance.Endpoint
	be             *backend
	rid            []string
}

// relay reports the target's answer to passive health and copies it to the
// client; it ends the request on ac.ep and ac.be.
func (p *Proxy) relay(w http.ResponseWriter, ex *exchange, resp *http.Response, ac answerCtx) {
	defer func() { ac.ep.Done(); ac.be.end() }()
	p.reportAnswer(ac.g.name, ac.ep.Addr, resp.StatusCode)
	if resp.StatusCode == http.StatusSwitchingProtocols {
		ex.status = resp.StatusCode
		p.upgraded(w, resp)
		return
	}
	defer resp.Body.Close()
	ex.status = resp.StatusCode
	answerHeader(w.Header(), resp, ac)
	w.WriteHeader(resp.StatusCode)
	ex.bytes = copyBody(w, resp.Body, resp.ContentLength < 0 || len(resp.Trailer) > 0)
	wh := w.Header()
	for k, v := range resp.Trailer {
		wh[http.TrailerPrefix+k] = v
	}
}

// reportAnswer tells passive health about an answer with status.
func (p *Proxy) reportAnswer(g string, a netip.AddrPort, status int) {
	if status >= 500 {
		p.report(g, a, health.Failure, reason5xx)
	} else {
		p.report(g, a, health.Success, "")
	}
}

// answerHeader fills wh (empty) with the answer's header for the client:
// without its hop-by-hop part, with the request id and stickiness cookies.
func answerHeader(wh http.Header, resp *http.Response, ac answerCtx) {
	for k, v := range resp.Header {
		if !isHop(k) {
			wh[k] = v
		}
	}
	removeNamed(wh, resp.Header["Connection"])
	wh["X-Request-Id"] = ac.rid
	f, g := ac.f, ac.g
	if ac.setGroupCookie {
		wh.Add("Set-Cookie", f.cookie+"="+strconv.Itoa(ac.gi)+"; Path=/; Max-Age="+strconv.Itoa(int(f.sticky.Seconds()))+"; HttpOnly")
	}
	switch g.sticky {
	case "lb_cookie": // refreshed on every response, as ALB
		wh.Add("Set-Cookie", g.stickyCookie(ac.ep))
	case "app_cookie":
		if setsCookie(resp.Header, g.appCookie) {
			wh.Add("Set-Cookie", g.stickyCookie(ac.ep))
		}
	}
}

// outgoing is the request to a target with its URL.
type outgoing struct {
	req http.Request
	url url.URL
}

// setsCookie reports whether a response sets cookie name.
func setsCookie(h http.Header, name string) bool {
	for _, sc := range h["Set-Cookie"] {
		if k, _, ok := strings.Cut(sc, "="); ok && strings.TrimSpace(k) == name {
			return true
		}
	}
	return false
}

// copyBody copies a response body to the client, flushing after every read
// when the body streams (no length, or trailers: gRPC).
func copyBody(w http.ResponseWriter, body io.Reader, stream bool) int64 {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	var n int64
	rc := http.NewResponseController(w)
	for {
		k, err := body.Read(buf)
		if k > 0 {
			wk, werr := w.Write(buf[:k])
			n += int64(wk)
			if werr != nil {
				return n
			}
			if stream {
				_ = rc.Flush()
			}
		}
		if err != nil {
			return n
		}
	}
}

// upgraded hands a switched-protocols connection (WebSocket) over: the
// client's connection is hijacked and bytes are copied both ways until
// either side closes.
func (p *Proxy) upgraded(w http.ResponseWriter, resp *http.Response) {
	backConn, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		resp.Body.Close()
		writeError(w, nil, http.StatusBadGateway, "")
		return
	}
	defer backConn.Close()
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		writeError(w, nil, http.StatusBadGateway, "")
		return
	}
	defer conn.Close()
	if !p.trackHijacked(conn, true) {
		return
	}
	defer p.trackHijacked(conn, false)
	removeHop(resp.Header)
	resp.Header["Connection"] = []string{"Upgrade"}
	if u := resp.Header.Get("Upgrade"); u == "" {
		resp.Header["Upgrade"] = []string{"websocket"}
	}
	resp.Body = nil
	if err := resp.Write(brw); err != nil {
		return
	}
	if err := brw.Flush(); err != nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		if n := brw.Reader.Buffered(); n > 0 {
			b, _ := brw.Reader.Peek(n)
			if _, err := backConn.Write(b); err != nil {
				done <- struct{}{}
				return
			}
		}
		_, _ = io.Copy(backConn, conn)
		done <- struct{}{}
	}()
	go func() {
		_, _ = io.Copy(conn, backConn)
		done <- struct{}{}
	}()
	<-done
	// One side ended: close both so the other copy ends too.
	conn.Close()
	backConn.Close()
	<-done
}
