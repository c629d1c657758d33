// This file is the packet boundary: one query packet in, one answer packet
// (or nothing) out. It first offers the packet to the fast path
// (fastpath.go), which answers the common queries from precomputed wire
// format; for the rest it checks the header and question, applies EDNS, asks
// answer.go for the sections (xfr.go for a transfer over UDP), applies
// response rate limiting and truncates UDP answers to fit. A panic is
// recovered here, and only here (and in serveTransfer, the other request
// boundary).

package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"runtime/debug"

	"github.com/miekg/dns"
)

// handle answers the query packet req from src, packing the answer into buf
// when it fits (len(buf) is the room), and returns the answer, or nil to
// send nothing: a packet too short for a header, or a response rather than
// a query (answering those could start a loop). tcp says the transport:
// UDP answers are truncated to the client's payload size, and subject to
// response rate limiting, which may drop them (nil) or send them truncated.
func (s *Server) handle(req []byte, src netip.Addr, tcp bool, buf []byte) []byte {
	resp, rcode := s.respond(req, src, tcp, buf)
	if resp != nil {
		s.counts.countRcode(rcode) // every answer sent, counted here once
	}
	return resp
}

// respond is handle's work: the answer (nil for none) and its rcode,
// extended rcodes included.
func (s *Server) respond(req []byte, src netip.Addr, tcp bool, buf []byte) (resp []byte, rcode int) {
	s.stats.queries.Add(1)
	defer func() {
		if p := recover(); p != nil {
			s.stats.panics.Add(1)
			s.log.Error("dnsserver: panic answering a query", "panic", p, "stack", string(debug.Stack()))
			resp, rcode = headerOnly(req, dns.RcodeServerFailure, buf), dns.RcodeServerFailure
		}
	}()
	if len(req) < headerLen || req[2]&0x80 != 0 {
		s.stats.dropped.Add(1)
		return nil, 0
	}
	if out, ok := s.fast(req, src, tcp, buf); ok {
		if out == nil {
			return nil, 0
		}
		return out, int(out[3] & 0xF) // the fast path sets no extended rcode
	}
	var m dns.Msg
	if err := m.Unpack(req); err != nil {
		s.stats.formErrs.Add(1)
		if !tcp && s.rrl != nil {
			switch s.rrl.check(src, rrlError, "", 0) {
			case rrlDrop:
				s.stats.rrlDropped.Add(1)
				return nil, 0
			case rrlSlip:
				s.stats.rrlSlipped.Add(1)
				out := headerOnly(req, dns.RcodeFormatError, buf)
				out[2] |= 0x02 // TC
				return out, dns.RcodeFormatError
			}
		}
		return headerOnly(req, dns.RcodeFormatError, buf), dns.RcodeFormatError
	}
	if len(m.Question) > 0 {
		s.counts.countType(m.Question[0].Qtype)
	}
	var r *dns.Msg
	var limit int
	var sign *signer
	if !tcp && len(m.Question) == 1 && (m.Question[0].Qtype == dns.TypeAXFR || m.Question[0].Qtype == dns.TypeIXFR) && m.Opcode == dns.OpcodeQuery {
		r, sign = s.transferUDP(&m, req, src)
		limit = dns.MinMsgSize // an SOA and a TSIG fit
	} else {
		r, limit = s.answer(&m, src, tcp)
	}
	if r.Rcode == dns.RcodeFormatError {
		s.stats.formErrs.Add(1)
	}
	if !tcp && s.rrl != nil {
		kind, name, qtype := rrlClassify(r)
		switch s.rrl.check(src, kind, name, qtype) {
		case rrlDrop:
			s.stats.rrlDropped.Add(1)
			return nil, 0
		case rrlSlip:
			s.stats.rrlSlipped.Add(1)
			r, sign = slipped(r), nil
		}
	}
	if sign != nil {
		out, err := sign.pack(r)
		if err != nil {
			s.log.Error("dnsserver: cannot sign an answer", "question", r.Question, "err", err)
			return headerOnly(req, dns.RcodeServerFailure, buf), dns.RcodeServerFailure
		}
		return out, r.Rcode
	}
	out, err := r.PackBuffer(buf)
	if err == nil && len(out) > limit {
		r.Truncate(limit)
		if r.Truncated {
			s.stats.truncated.Add(1)
		}
		out, err = r.PackBuffer(buf)
	}
	if err != nil {
		s.log.Error("dnsserver: cannot pack an answer", "question", r.Question, "err", err)
		return headerOnly(req, dns.RcodeServerFailure, buf), dns.RcodeServerFailure
	}
	return out, r.Rcode
}

// headerLen is the size of a DNS header.
const headerLen = 12

// headerOnly returns an answer of just a header to req (at least 12 bytes):
// its ID, opcode and RD, QR set, rcode, and no records.
func headerOnly(req []byte, rcode int, buf []byte) []byte {
	if len(buf) < headerLen {
		buf = make([]byte, headerLen)
	}
	out := buf[:headerLen]
	clear(out)
	copy(out[:2], req[:2])
	const qr, opcodeMask, rd = 0x8000, 0x7800, 0x0100
	flags := binary.BigEndian.Uint16(req[2:4])
	binary.BigEndian.PutUint16(out[2:4], qr|flags&(opcodeMask|rd)|uint16(rcode&0xF))
	return out
}

// answer builds the answer message to m and the most bytes it may take.
func (s *Server) answer(m *dns.Msg, src netip.Addr, tcp bool) (*dns.Msg, int) {
	r := &dns.Msg{
		MsgHdr: dns.MsgHdr{
			Id:               m.Id,
			Response:         true,
			Opcode:           m.Opcode,
			RecursionDesired: m.RecursionDesired,
			CheckingDisabled: m.CheckingDisabled,
		},
		Compress: true,
	}
	limit := dns.MinMsgSize
	if tcp {
		limit = dns.MaxMsgSize
	}
	if len(m.Question) != 1 {
		// RFC 9619: a query has exactly one question.
		r.Rcode = dns.RcodeFormatError
		return r, limit
	}
	r.Question = m.Question // as asked, case and all (0x20)
	e, ok := readEDNS(m)
	if !ok {
		r.Rcode = dns.RcodeFormatError
		if e.present { // a sound OPT with a bad option
			r.Extra = append(r.Extra, replyOPT(edns{do: e.do}, client{}, 0))
		}
		return r, limit
	}
	if e.present && !tcp {
		limit = min(e.size, ednsPayload)
	}
	cl := clientOf(e, src)
	scope := 0
	switch q := m.Question[0]; {
	case e.present && e.version > 0:
		r.Rcode = dns.RcodeBadVers // RFC 6891 §6.1.3; the OPT below says version 0
	case m.Opcode != dns.OpcodeQuery:
		r.Rcode = dns.RcodeNotImplemented
	case q.Qtype == dns.TypeOPT:
		r.Rcode = dns.RcodeFormatError
	case q.Qclass != dns.ClassINET:
		r.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeAXFR || q.Qtype == dns.TypeIXFR:
		// Transfers over TCP go to serveTransfer before they get here, and
		// over UDP to transferUDP; only a direct call of handle lands here.
		r.Rcode = dns.RcodeRefused
	case q.Qtype == dns.TypeMAILA || q.Qtype == dns.TypeMAILB:
		r.Rcode = dns.RcodeNotImplemented
	default:
		t := s.table.Load()
		if t == nil {
			r.Rcode = dns.RcodeServerFailure // no view yet
			break
		}
		qy := query{s: s, t: t, cl: cl}
		qy.resolve(r, q.Name, q.Qtype)
		scope = qy.scope
	}
	if e.present {
		r.Extra = append(r.Extra, replyOPT(e, cl, scope))
	}
	return r, limit
}
