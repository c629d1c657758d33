// This file holds the Server: its configuration, life cycle (New, Listen,
// Run, Sync) and counters. doc.go says what the package does.

package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/view"
)

// Defaults of Config fields left zero.
const (
	DefaultLoadBalancerTTL = 60 * time.Second
	DefaultTCPIdleTimeout  = 10 * time.Second
	DefaultMaxTCPConns     = 1024
	DefaultTransferHistory = 64
	DefaultNotifyRetry     = 2 * time.Second
	DefaultNotifyAttempts  = 5
)

// Config configures a Server. The zero value of every optional field means
// its default.
type Config struct {
	// Listen are host:port addresses, each served on UDP and TCP on the same
	// port. Port 0 picks a free port (see Server.Addrs). At least one.
	Listen []string
	// Views supplies the routing views to answer from. Required.
	Views *view.Publisher
	// Locator places client addresses for geolocation and geoproximity
	// records. Optional: without it no client has a location, so only
	// default ("*") geolocation records match and geoproximity picks at
	// random among healthy records.
	Locator Locator
	// LoadBalancerTTL is the TTL of load balancer names and of aliases to
	// load balancers. Default 60s (as ELB); 0s–68 years.
	LoadBalancerTTL time.Duration
	// Logger receives the server's few log lines. Default slog.Default().
	Logger *slog.Logger
	// Rand, when set, is the source of every random choice (weighted,
	// multivalue, shuffles), used under a lock so that a test is
	// deterministic. Default: the runtime's per-thread generator, lock-free.
	Rand rand.Source
	// UDPSockets is the number of UDP sockets per listen address, bound with
	// SO_REUSEPORT on Linux so the kernel spreads queries over them; each has
	// its own reader goroutine. On other systems, and for port 0 (where
	// SO_REUSEPORT could share an ephemeral port with a stranger), one socket
	// is read by this many goroutines instead. Default runtime.NumCPU(); 1–256.
	UDPSockets int
	// TCPIdleTimeout closes a TCP connection that sends no complete query for
	// this long (RFC 7766 recommends seconds). Default 10s.
	TCPIdleTimeout time.Duration
	// MaxTCPConns bounds open TCP connections over all listen addresses; a
	// connection beyond it is closed at once. Default 1024.
	MaxTCPConns int
	// Secondaries may transfer our zones (xfr.go) and are sent NOTIFY on
	// every new serial (notify.go). Without any, every transfer is refused.
	Secondaries []Secondary
	// TransferHistory is how many versions' changes each zone keeps for
	// IXFR; a secondary further behind gets the whole zone. Default 64;
	// 1–1024.
	TransferHistory int
	// NotifyRetry is how long a NOTIFY waits for its acknowledgement before
	// it is sent again; the wait doubles each time. Default 2s.
	NotifyRetry time.Duration
	// NotifyAttempts is how many times a NOTIFY is sent at most. Default 5;
	// 1–20.
	NotifyAttempts int
	// RRL is response rate limiting over UDP (rrl.go). Off by default.
	RRL RRLConfig

	// now replaces time.Now for the rate limiter, in tests.
	now func() time.Time
}

// Stats are counters since New, for metrics and tests.
type Stats struct {
	// Queries counts packets handled, over UDP and TCP.
	Queries uint64
	// Dropped counts packets given no answer: too short for a header, or a
	// response rather than a query.
	Dropped uint64
	// FormErrs counts FORMERR answers.
	FormErrs uint64
	// Truncated counts UDP answers sent with TC=1.
	Truncated uint64
	// Panics counts queries whose handling panicked (answered SERVFAIL).
	// Any non-zero value is a bug.
	Panics uint64
	// TCPRejected counts TCP connections closed at once because MaxTCPConns
	// were open.
	TCPRejected uint64
	// RRLDropped counts UDP answers response rate limiting dropped, and
	// RRLSlipped those it sent truncated instead.
	RRLDropped, RRLSlipped uint64
	// FullTransfers counts zone transfers that sent the whole zone (AXFR,
	// and IXFR from an unknown or too old serial); IncrementalTransfers
	// IXFRs answered with changes or "up to date"; TransfersRefused
	// transfer requests refused (not allowed, not signed as required, not
	// over TCP, or not our zone).
	FullTransfers, IncrementalTransfers, TransfersRefused uint64
	// NotifiesSent counts NOTIFY messages sent, retries included;
	// NotifiesAcked those a secondary acknowledged; NotifiesFailed those
	// given up after NotifyAttempts or answered with an error.
	NotifiesSent, NotifiesAcked, NotifiesFailed uint64
	// Tables counts views compiled into answer tables; TableErrors those
	// that failed (the previous table kept answering).
	Tables, TableErrors uint64
	// FailingOpen is the number of record groups of the current table
	// with no healthy record, which answer as if all were healthy.
	FailingOpen int
	// ByType counts queries by question type mnemonic ("A", "AAAA", …;
	// "TYPE65" style for types without one). ByRcode counts answers by
	// rcode mnemonic ("NOERROR", "NXDOMAIN", "REFUSED", …). ByPolicy counts
	// answers from record groups by routing policy ("simple", "weighted",
	// "failover", …). ByRecordSet counts answers by the record set that was
	// answered, keyed "name type set-identifier" (the set identifier empty
	// for simple records). Nil maps mean no counts yet. Counting must not
	// allocate on the query path; the maps are built here, on read.
	//
	// In detail: ByType counts every query whose question could be read
	// (a query with several questions by the first), zone transfers over
	// TCP included. ByRcode counts the answers sent, so not those response
	// rate limiting drops; 16 is "BADVERS", and numbers without a mnemonic
	// read "RCODE23". ByPolicy counts each record group that answered,
	// each link of a CNAME chain apart. ByRecordSet's name is canonical
	// (lower case, with the final dot: "www.example.com. A blue"); an
	// alias counts itself and the record it led to; a multivalue answer
	// counts each of its records. Policy and record set counts are taken
	// when the answer is chosen, before rate limiting, so they include
	// answers it then dropped or sent truncated. Counts go on
	// across new views; a record set no longer in the state leaves
	// ByRecordSet. Zero counts are left out.
	ByType, ByRcode, ByPolicy, ByRecordSet map[string]uint64
}

// Server answers DNS queries from the current view. Create it with New,
// bind it with Listen (or let Run do it), and serve with Run.
type Server struct {
	// Immutable after New.
	cfg    Config
	log    *slog.Logger
	lbTTL  uint32
	rndMu  sync.Mutex // guards rnd
	rnd    *rand.Rand // nil: the lock-free global generator
	idle   time.Duration
	tcpSem chan struct{}
	// secondaries and keys (by canonical name) are Config.Secondaries
	// checked and compiled.
	secondaries []*secondary
	keys        map[string]*tsigKey
	// rrl is nil when response rate limiting is off.
	rrl *limiter
	// notifyCh wakes the NOTIFY loop when transfers has a new version.
	notifyCh chan struct{}

	// table is what queries read: one atomic load per query.
	table atomic.Pointer[table]
	// xfr is what zone transfers read: nil without secondaries.
	xfr atomic.Pointer[transfers]
	// counts are the counters by type, rcode, policy and record set.
	counts *counters

	mu       sync.Mutex // guards the fields below
	last     *view.View // the last view installed or refused
	swapped  chan struct{}
	udp      []udpSocket
	tcp      []net.Listener
	addrs    []net.Addr
	listened bool
	ran      bool

	stats struct {
		queries, dropped, formErrs, truncated, panics, tcpRejected, tables, tableErrors atomic.Uint64
		rrlDropped, rrlSlipped                                                          atomic.Uint64
		fullXfr, incrXfr, xfrRefused                                                    atomic.Uint64
		notifies, notifyAcks, notifyFails                                               atomic.Uint64
	}
}

// New checks cfg and returns a Server that is not yet listening. It does no I/O.
func New(cfg Config) (*Server, error) {
	var errs []error
	if len(cfg.Listen) == 0 {
		errs = append(errs, errors.New("listen: at least one address is required"))
	}
	for _, a := range cfg.Listen {
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("listen: %q is not host:port: %w", a, err))
		}
	}
	if cfg.Views == nil {
		errs = append(errs, errors.New("views: a publisher is required"))
	}
	if cfg.LoadBalancerTTL < 0 || cfg.LoadBalancerTTL > (1<<31-1)*time.Second {
		errs = append(errs, fmt.Errorf("load balancer TTL: %s is outside 0s–68 years", cfg.LoadBalancerTTL))
	}
	if cfg.UDPSockets < 0 || cfg.UDPSockets > 256 {
		errs = append(errs, fmt.Errorf("udp sockets: %d is outside 1–256", cfg.UDPSockets))
	}
	if cfg.TCPIdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("tcp idle timeout: %s is negative", cfg.TCPIdleTimeout))
	}
	if cfg.MaxTCPConns < 0 {
		errs = append(errs, fmt.Errorf("max tcp conns: %d is negative", cfg.MaxTCPConns))
	}
	if cfg.TransferHistory < 0 || cfg.TransferHistory > 1024 {
		errs = append(errs, fmt.Errorf("transfer history: %d is outside 1–1024", cfg.TransferHistory))
	}
	if cfg.NotifyRetry < 0 {
		errs = append(errs, fmt.Errorf("notify retry: %s is negative", cfg.NotifyRetry))
	}
	if cfg.NotifyAttempts < 0 || cfg.NotifyAttempts > 20 {
		errs = append(errs, fmt.Errorf("notify attempts: %d is outside 1–20", cfg.NotifyAttempts))
	}
	secs, keys, err := compileSecondaries(cfg.Secondaries)
	if err != nil {
		errs = append(errs, err)
	}
	rrl, err := newLimiter(cfg.RRL)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dnsserver: %w", err)
	}
	if cfg.LoadBalancerTTL == 0 {
		cfg.LoadBalancerTTL = DefaultLoadBalancerTTL
	}
	if cfg.UDPSockets == 0 {
		cfg.UDPSockets = runtime.NumCPU()
	}
	if cfg.TCPIdleTimeout == 0 {
		cfg.TCPIdleTimeout = DefaultTCPIdleTimeout
	}
	if cfg.MaxTCPConns == 0 {
		cfg.MaxTCPConns = DefaultMaxTCPConns
	}
	if cfg.TransferHistory == 0 {
		cfg.TransferHistory = DefaultTransferHistory
	}
	if cfg.NotifyRetry == 0 {
		cfg.NotifyRetry = DefaultNotifyRetry
	}
	if cfg.NotifyAttempts == 0 {
		cfg.NotifyAttempts = DefaultNotifyAttempts
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	if rrl != nil {
		rrl.now = cfg.now
		rrl.epoch = cfg.now()
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		lbTTL:       uint32(cfg.LoadBalancerTTL / time.Second),
		idle:        cfg.TCPIdleTimeout,
		tcpSem:      make(chan struct{}, cfg.MaxTCPConns),
		secondaries: secs,
		keys:        keys,
		rrl:         rrl,
		notifyCh:    make(chan struct{}, 1),
		swapped:     make(chan struct{}),
		counts:      new(counters),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if cfg.Rand != nil {
		s.rnd = rand.New(cfg.Rand)
	}
	return s, nil
}

// Listen binds every listen address on UDP and TCP. Run calls it when it
// has not been called; call it first to learn the addresses (Addrs) before
// serving. It may be called once, and then Run must follow: the sockets are
// closed when Run's context ends.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listened {
		return errors.New("dnsserver: Listen called twice")
	}
	s.listened = true
	var udp []udpSocket
	var tcp []net.Listener
	var addrs []net.Addr
	for _, addr := range s.cfg.Listen {
		u, t, err := listen(addr, s.cfg.UDPSockets)
		if err != nil {
			for _, c := range udp {
				c.conn.Close()
			}
			for _, l := range tcp {
				l.Close()
			}
			return fmt.Errorf("dnsserver: %w", err)
		}
		udp, tcp = append(udp, u...), append(tcp, t)
		addrs = append(addrs, u[0].conn.LocalAddr())
	}
	s.udp, s.tcp, s.addrs = udp, tcp, addrs
	return nil
}

// Addrs returns the bound UDP address of each listen address, in the order
// of Config.Listen; TCP listens on the same address and port. It is empty
// before Listen.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]net.Addr(nil), s.addrs...)
}

// Run serves until ctx ends, then closes every socket and connection and
// waits for its goroutines. It compiles each view the publisher offers into
// a new answer table. Before the first view, queries get SERVFAIL. Run
// returns nil when ctx ends, or the error of Listen. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.ran {
		s.mu.Unlock()
		return errors.New("dnsserver: Run called twice")
	}
	s.ran = true
	listened := s.listened
	s.mu.Unlock()
	if !listened {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	s.mu.Lock()
	udp, tcp := s.udp, s.tcp
	s.mu.Unlock()

	views := s.cfg.Views.Subscribe(ctx)
	var wg sync.WaitGroup
	for _, u := range udp {
		for range u.readers {
			wg.Go(func() { s.serveUDP(u.conn) })
		}
	}
	for _, l := range tcp {
		wg.Go(func() { s.serveTCP(ctx, l, &wg) })
	}
	if s.notifies() {
		wg.Go(func() { s.notifyLoop(ctx, &wg) })
	}
	stop := context.AfterFunc(ctx, func() {
		for _, u := range udp {
			u.conn.Close()
		}
		for _, l := range tcp {
			l.Close()
		}
	})
	defer stop()
	for v := range views { // closed when ctx ends
		s.install(v)
	}
	wg.Wait()
	return nil
}

// install compiles v and makes it the table queries read. A view that does
// not compile is logged and counted; the previous table keeps answering.
func (s *Server) install(v *view.View) {
	t, sets, err := compile(v, s.lbTTL, &s.counts.records)
	if err != nil {
		s.stats.tableErrors.Add(1)
		s.log.Error("dnsserver: cannot compile view; answering from the previous one", "version", v.Version, "err", err)
	} else {
		s.stats.tables.Add(1)
		s.table.Store(t)
		s.counts.records.retain(sets)
		s.updateTransfers(t)
	}
	s.mu.Lock()
	s.last = v
	close(s.swapped)
	s.swapped = make(chan struct{})
	s.mu.Unlock()
}

// Sync waits until the server has taken in the view the publisher holds
// now (answering from it, or refusing it as logged), or ctx ends. It lets
// callers, such as tests and readiness checks, know that the next answer
// reflects a view they published.
func (s *Server) Sync(ctx context.Context) error {
	for {
		cur := s.cfg.Views.Load()
		s.mu.Lock()
		done, ch := cur == nil || s.last == cur, s.swapped
		s.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats returns the counters. It may be called at any time, concurrently
// with queries; building the maps takes some microseconds (BenchmarkStats).
func (s *Server) Stats() Stats {
	st := Stats{
		Queries:     s.stats.queries.Load(),
		Dropped:     s.stats.dropped.Load(),
		FormErrs:    s.stats.formErrs.Load(),
		Truncated:   s.stats.truncated.Load(),
		Panics:      s.stats.panics.Load(),
		TCPRejected: s.stats.tcpRejected.Load(),
		RRLDropped:  s.stats.rrlDropped.Load(),
		RRLSlipped:  s.stats.rrlSlipped.Load(),

		FullTransfers:        s.stats.fullXfr.Load(),
		IncrementalTransfers: s.stats.incrXfr.Load(),
		TransfersRefused:     s.stats.xfrRefused.Load(),
		NotifiesSent:         s.stats.notifies.Load(),
		NotifiesAcked:        s.stats.notifyAcks.Load(),
		NotifiesFailed:       s.stats.notifyFails.Load(),
		Tables:               s.stats.tables.Load(),
		TableErrors:          s.stats.tableErrors.Load(),
		FailingOpen:          s.failingOpen(),
	}
	s.counts.fill(&st)
	return st
}

func (s *Server) failingOpen() int {
	if t := s.table.Load(); t != nil {
		return t.failingOpen
	}
	return 0
}

// intN returns a random int in [0, n); n > 0.
func (s *Server) intN(n int) int {
	if s.rnd == nil {
		return rand.IntN(n)
	}
	s.rndMu.Lock()
	defer s.rndMu.Unlock()
	return s.rnd.IntN(n)
}
