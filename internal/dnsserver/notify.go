// This file sends NOTIFY (RFC 1996) to secondaries: on every new serial,
// one message per zone to each secondary with an address, over UDP,
// signed when the secondary has a key, sent again with a doubling wait
// until it is acknowledged or NotifyAttempts are spent.

package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// notifies reports whether any secondary has an address to notify.
func (s *Server) notifies() bool {
	for _, sec := range s.secondaries {
		if sec.notify.IsValid() {
			return true
		}
	}
	return false
}

// notifyTarget is one zone of one secondary.
type notifyTarget struct {
	sec  *secondary
	apex string
}

// notifyLoop waits for new transfer versions and starts a sender, in wg,
// for each zone of each secondary with an address. A newer serial cancels
// the sender still retrying an older one: the secondary wants the newest.
// It returns when ctx ends, after cancelling its senders.
func (s *Server) notifyLoop(ctx context.Context, wg *sync.WaitGroup) {
	senders := map[notifyTarget]context.CancelFunc{}
	defer func() {
		for _, cancel := range senders {
			cancel()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.notifyCh:
			s.startNotifies(ctx, wg, senders)
		}
	}
}

// startNotifies starts the senders for the current transfers.
func (s *Server) startNotifies(ctx context.Context, wg *sync.WaitGroup, senders map[notifyTarget]context.CancelFunc) {
	x := s.xfr.Load()
	if x == nil {
		return
	}
	for _, sec := range s.secondaries {
		if !sec.notify.IsValid() {
			continue
		}
		for apex, z := range x.zones {
			if sec.zones != nil && !sec.zones[apex] {
				continue
			}
			k := notifyTarget{sec, apex}
			if cancel := senders[k]; cancel != nil {
				cancel()
			}
			sctx, cancel := context.WithCancel(ctx)
			senders[k] = cancel
			soa := z.soa
			wg.Go(func() {
				defer cancel()
				s.notify(sctx, sec, soa)
			})
		}
	}
	// Forget zones that are gone.
	for k, cancel := range senders {
		if x.zones[k.apex] == nil {
			cancel()
			delete(senders, k)
		}
	}
}

// notify tells sec that the zone of soa has soa's serial, until sec
// acknowledges, answers with an error, the attempts are spent, or ctx
// ends. A retransmission carries the same ID (RFC 1996 §3.6).
func (s *Server) notify(ctx context.Context, sec *secondary, soa *dns.SOA) {
	log := s.log.With("secondary", sec.notify.String(), "zone", soa.Hdr.Name, "serial", soa.Serial)
	c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(sec.notify))
	if err != nil {
		s.stats.notifyFails.Add(1)
		log.Warn("dnsserver: cannot send NOTIFY", "err", err)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	m := new(dns.Msg)
	m.SetNotify(soa.Hdr.Name)
	m.Answer = []dns.RR{soa} // the new serial, as a hint (RFC 1996 §3.7)
	buf := make([]byte, dns.MaxMsgSize)
	wait := s.cfg.NotifyRetry
	for range s.cfg.NotifyAttempts {
		var sg *signer
		if sec.key != nil {
			sg = &signer{key: sec.key, name: sec.key.name, alg: sec.key.alg}
		}
		pkt, err := sg.pack(m.Copy())
		if err != nil {
			s.stats.notifyFails.Add(1)
			log.Error("dnsserver: cannot pack NOTIFY", "err", err)
			return
		}
		s.stats.notifies.Add(1)
		c.Write(pkt) // a failure shows as no acknowledgement
		done, err := s.awaitAck(ctx, c, m.Id, sg, time.Now().Add(wait), buf)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.stats.notifyFails.Add(1)
			log.Warn("dnsserver: secondary refused NOTIFY", "err", err)
			return
		case done:
			s.stats.notifyAcks.Add(1)
			log.Debug("dnsserver: secondary acknowledged NOTIFY")
			return
		}
		wait *= 2
	}
	s.stats.notifyFails.Add(1)
	log.Warn("dnsserver: secondary did not acknowledge NOTIFY; it will find the change at its SOA refresh", "attempts", s.cfg.NotifyAttempts)
}

// errNotifyRcode is a NOTIFY answered with an error rcode.
var errNotifyRcode = errors.New("dnsserver: NOTIFY answered with an error")

// awaitAck reads c until the acknowledgement of NOTIFY id arrives (done),
// the deadline passes, or ctx ends. An answer that does not verify
// against sg (when the NOTIFY was signed) is ignored, as a forgery would
// be. An acknowledgement with an error rcode returns that as err.
func (s *Server) awaitAck(ctx context.Context, c *net.UDPConn, id uint16, sg *signer, deadline time.Time, buf []byte) (done bool, err error) {
	for {
		c.SetReadDeadline(deadline)
		n, rerr := c.Read(buf)
		if rerr != nil {
			if ctx.Err() != nil || errors.Is(rerr, os.ErrDeadlineExceeded) {
				return false, nil
			}
			// Such as ECONNREFUSED: nothing listens there yet. Wait out the
			// attempt rather than spin.
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
			return false, nil
		}
		var r dns.Msg
		if r.Unpack(buf[:n]) != nil || r.Id != id || !r.Response || r.Opcode != dns.OpcodeNotify {
			continue
		}
		if sg != nil {
			if err := dns.TsigVerify(buf[:n], sg.key.secret, sg.mac, false); err != nil {
				s.log.Debug("dnsserver: NOTIFY answer does not verify", "err", err)
				continue
			}
		}
		if r.Rcode != dns.RcodeSuccess {
			return false, fmt.Errorf("%w: %s", errNotifyRcode, dns.RcodeToString[r.Rcode])
		}
		return true, nil
	}
}
