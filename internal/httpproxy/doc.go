// Package httpproxy is the L7 load balancer: it serves every http and https
// listener of the view, matches each request against the listener's rules
// by priority, and forwards it to a target chosen by internal/balance,
// answers with a redirect, or with a fixed response.
//
// # Routing
//
// Each view is compiled into one immutable table per listener (rules sorted
// by priority, patterns pre-classified as exact, prefix or wildcard) and
// swapped in atomically; matching and target selection allocate nothing.
// Host and header values match case-insensitively; paths, query strings
// and gRPC names case-sensitively. Query conditions compare the raw
// (still-escaped) query string. gRPC conditions match requests whose
// content-type starts with application/grpc, on their :path
// /package.Service/Method.
//
// # Forwarding
//
// Targets get HTTP/1.1 with pooled keep-alive connections, one pool per
// target, or HTTP/2 without TLS (h2c) for grpc target groups; clients may
// speak HTTP/1.1, HTTP/2 over TLS (ALPN), or h2c with prior knowledge on
// plain listeners. The common request, HTTP/1.1 without a body, takes a
// fast path at both ends. On Linux, plain listeners are served by event
// loops (evloop_linux.go, one per GOMAXPROCS): non-blocking sockets on an
// epoll instance of their own, read only when epoll says they are ready,
// with pooled keep-alive connections to HTTP/1.1 targets; requests and
// answers are parsed in place and their heads written without header maps,
// and such a request allocates nothing (its head and request id when an
// access log is on, whose handler may keep them). A connection whose request or answer the loop does not
// handle leaves it, with the bytes already read, for the goroutine path:
// there our own loop parses requests in place (fastserve.go), and an
// idempotent one goes to an HTTP/1.1 target on a connection the request
// goroutine drives itself (h1.go), which parses the common answer (a
// Content-Length or no body) in place too. Everything else goes through
// net/http's server and http.Transport. WebSocket and other upgrades are passed through. The
// proxy adds X-Forwarded-For (appended), X-Forwarded-Proto and
// X-Forwarded-Port, strips hop-by-hop headers, and keeps a client's
// X-Request-Id when it is sane (1–128 visible ASCII characters) or makes
// one up; the id goes to the target and back to the client.
//
// # Errors
//
// As ALB: 502 when a target refuses or resets the connection or answers
// something that is not HTTP; 503 when the target group has no routable
// target; 504 when the target did not accept the connection within
// connect_timeout or did not answer within request_timeout. The page says
// the fault is ours and what to try, in JSON when the client accepts JSON
// and in HTML otherwise. A request whose connection failed before any byte
// was sent is retried once on another target when it is idempotent (GET,
// HEAD, OPTIONS, TRACE, PUT, DELETE) and has no body; so is a bodiless
// idempotent request whose kept-alive connection broke before any answer
// byte when a new connection to its target is refused (the target died
// with it in flight). Client errors: 400 for what is not HTTP, 431 for a
// header over Config.MaxHeaderBytes, 413 for a declared body over
// Config.MaxBodyBytes (no limit by default, as ALB), and 408 for a client
// that began a request head and did not finish it within the listener's
// idle timeout (one that sent nothing is closed silently). A connection
// handed to net/http (bodies, upgrades, malformed heads) is closed
// without a 408, as net/http does.
//
// # Stickiness
//
// Target-group stickiness lb_cookie sets cookie swb_tg_<group> naming the
// target by a hash of its address (the same on every node), for the
// configured duration; app_cookie sets swb_app_<group> beside the
// application's cookie whenever the application sets it, and follows it
// while the client sends both. Group stickiness of a weighted forward sets
// swb_grp_<listener port>_<rule priority> to the chosen group's index. A cookie that names
// a target no longer routable is ignored and replaced.
//
// # Passive health and draining
//
// Every outcome goes to a Reporter (the health engine): Success below 500,
// Failure on reset, timeout or 5xx, ConnectFailure when the target could
// not be reached. A target that leaves the routable set gets no new
// requests; its in-flight requests finish, and its pooled idle connections
// are closed as soon as it has none in flight (or after the group's
// deregistration delay).
//
// # Access log
//
// With Config.AccessLog set, one structured line per request (listener,
// rule, target group, target, zone, status, bytes, timings), every
// AccessLogEvery-th request; off by default because it costs more than
// proxying a small request.
package httpproxy
