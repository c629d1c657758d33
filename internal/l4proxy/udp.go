package l4proxy

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/proxyproto"
)

// udpListener serves a udp listener. Each client address and port is a
// flow with its own connected socket to the target the flow started on, so
// replies can be told apart; replies leave through the listening socket, so
// the client sees them come from the address it sent to. A flow ends after
// the idle timeout; the table holds at most max_flows, beyond which new
// clients' datagrams are dropped and counted.
type udpListener struct {
	p   *Proxy
	pc  *net.UDPConn
	cur atomic.Pointer[listenerSpec]

	active, total, refused atomic.Int64

	mu    sync.Mutex // guards flows
	flows map[netip.AddrPort]*flow
}

// flow is one client's traffic through a udp listener.
type flow struct {
	l      *udpListener
	client netip.AddrPort
	up     *net.UDPConn
	t      *target
	ep     *balance.Endpoint
	header []byte // PROXY v2 header put before each datagram, if asked
	last   atomic.Int64
	once   sync.Once
}

func (p *Proxy) listenUDP(s *listenerSpec) (listener, error) {
	pc, err := net.ListenPacket("udp", s.bind)
	if err != nil {
		return nil, err
	}
	l := &udpListener{p: p, pc: pc.(*net.UDPConn), flows: map[netip.AddrPort]*flow{}}
	l.cur.Store(s)
	p.serve.Go(l.readLoop)
	return l, nil
}

func (l *udpListener) update(s *listenerSpec) { l.cur.Store(s) }
func (l *udpListener) spec() *listenerSpec    { return l.cur.Load() }
func (l *udpListener) addr() net.Addr         { return l.pc.LocalAddr() }
func (l *udpListener) close()                 { l.pc.Close() }

func (l *udpListener) closeAll() {
	for _, f := range l.snapshot() {
		f.Close()
	}
}

func (l *udpListener) snapshot() []*flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	fs := make([]*flow, 0, len(l.flows))
	for _, f := range l.flows {
		fs = append(fs, f)
	}
	return fs
}

func (l *udpListener) stats() ListenerStats {
	s := l.cur.Load()
	return ListenerStats{
		Listener: s.key, Addr: l.pc.LocalAddr().String(), Protocol: s.proto,
		Active: l.active.Load(), Total: l.total.Load(), Refused: l.refused.Load(),
	}
}

// sweep ends flows idle for longer than the idle timeout.
func (l *udpListener) sweep(now time.Time) {
	idle := l.cur.Load().idle
	for _, f := range l.snapshot() {
		if now.Sub(time.Unix(0, f.last.Load())) >= idle {
			f.Close()
		}
	}
}

// readLoop reads datagrams from clients into one buffer and sends each on
// its flow's socket.
func (l *udpListener) readLoop() {
	// The datagram lands after room for a PROXY header, which is copied
	// in front of it: no allocation per datagram.
	buf := make([]byte, udpHeaderRoom+64<<10)
	for {
		n, client, err := l.pc.ReadFromUDPAddrPort(buf[udpHeaderRoom:])
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.closeAll()
				return
			}
			continue // e.g. ICMP errors reported on the socket
		}
		f := l.flow(client)
		if f == nil {
			l.refused.Add(1)
			continue
		}
		f.last.Store(l.p.cfg.Now().UnixNano())
		b := buf[udpHeaderRoom : udpHeaderRoom+n]
		if h := len(f.header); h > 0 {
			copy(buf[udpHeaderRoom-h:], f.header)
			b = buf[udpHeaderRoom-h : udpHeaderRoom+n]
		}
		if _, err := f.up.Write(b); err == nil {
			f.t.bytesIn.Add(int64(n))
		}
	}
}

// udpHeaderRoom is the room readLoop keeps before each datagram for the
// PROXY header: a v2 header with IPv6 addresses and no TLVs, the longest
// a flow sends.
const udpHeaderRoom = 16 + 36

// flow returns client's flow, starting one when there is room and a
// target; nil otherwise.
func (l *udpListener) flow(client netip.AddrPort) *flow {
	s := l.cur.Load()
	l.mu.Lock()
	f := l.flows[client]
	full := len(l.flows) >= s.model.MaxFlows && s.model.MaxFlows > 0
	l.mu.Unlock()
	if f != nil {
		return f
	}
	if full {
		return nil
	}
	group := s.route("", client.Addr())
	ep, t, spec, err := l.p.pick(group, client.Addr(), nil)
	if err != nil {
		return nil
	}
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(t.key.addr))
	l.p.report(t, err)
	if err != nil {
		t.release(nil)
		return nil
	}
	f = &flow{l: l, client: client, up: up, t: t, ep: ep}
	if spec != nil && spec.ProxyProtocol != "" {
		// v1 has no UDP form: both versions send a v2 header per datagram.
		f.header = proxyproto.Append(nil, proxyproto.Header{Version: 2, Command: proxyproto.Proxy, Transport: proxyproto.UDP,
			Source: client, Dest: addrPort(l.pc.LocalAddr())})
	}
	f.last.Store(l.p.cfg.Now().UnixNano())
	ep.Begin()
	t.track(f)
	l.mu.Lock()
	l.flows[client] = f
	l.mu.Unlock()
	l.active.Add(1)
	l.total.Add(1)
	l.p.conns.Add(1)
	go f.replies()
	return f
}

// replies sends the target's datagrams back to the client from the
// listener's address until the flow ends.
func (f *flow) replies() {
	defer f.l.p.conns.Done()
	for {
		err := recvPooled(f.up, func(b []byte) {
			f.last.Store(f.l.p.cfg.Now().UnixNano())
			if _, err := f.l.pc.WriteToUDPAddrPort(b, f.client); err == nil {
				f.t.bytesOut.Add(int64(len(b)))
			}
		})
		if err != nil && errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil && f.closed() {
			return
		}
	}
}

func (f *flow) closed() bool {
	f.l.mu.Lock()
	defer f.l.mu.Unlock()
	return f.l.flows[f.client] != f
}

// Close ends the flow: its socket closes and its table entry goes.
func (f *flow) Close() error {
	f.once.Do(func() {
		f.l.mu.Lock()
		if f.l.flows[f.client] == f {
			delete(f.l.flows, f.client)
		}
		f.l.mu.Unlock()
		f.up.Close()
		f.t.release(f)
		f.ep.Done()
		f.l.active.Add(-1)
	})
	return nil
}
