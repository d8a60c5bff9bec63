package p2p

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// P2P version 2 (WLM 2009 and later, MSNP16+ with endpoint GUIDs) frames
// the same MSNSLP signalling differently: a transport header (TLP) of
// big-endian fields and TLVs, then a data header naming the session, then
// the data. WLM uses it only with peers announcing the P2Pv2 capability,
// which msnclient never does; a peer that uses it anyway (an old
// capability cache, another client's choice) can still send us files:
// their invitations go to the handlers like version 1 ones, and streamed
// receives (files) are accepted and received over version 2. Every other
// invitation is declined over version 2, so that the sender does not
// wait. We never start version 2 sessions.
//
// Layout (MSNPSharp's P2Pv2Header and P2PDataLayerPacket):
//
//	TLP header:  0 header length (8 + TLVs, padded to 4)
//	             1 operation code (SYN 0x01, RAK 0x02)
//	             2 payload length, big-endian 16 bits (data header + data)
//	             4 sequence number, big-endian 32 bits
//	             8 TLVs: 1 peer info (12 bytes), 2 ack (4), 3 nak (4)
//	data header: 0 header length (8 + TLVs, padded to 4)
//	             1 TF combination (0x01 first chunk of a message)
//	             2 package number, big-endian 16 bits
//	             4 session id, big-endian 32 bits
//	             8 TLVs: 1 data remaining after this chunk (8 bytes)
//	data, then (through a switchboard) the 4-byte big-endian footer.

// Operation codes and TLV types of P2P version 2.
const (
	V2OpSYN = 0x01
	V2OpRAK = 0x02

	v2TLVPeerInfo      = 0x01
	v2TLVAck           = 0x02
	v2TLVDataRemaining = 0x01
	v2TFFirst          = 0x01
)

// V2Packet is a parsed P2P version 2 packet.
type V2Packet struct {
	OpCode   byte
	Sequence uint32
	PeerInfo []byte // TLV 1 of the TLP header, nil when absent
	AckSeq   uint32 // TLV 2: the sequence number acknowledged; 0 when none
	HasAck   bool
	// PayloadLen is the TLP's payload length (data header and data).
	PayloadLen uint16

	// Data layer, when PayloadLen > 0.
	TF            byte
	PackageNumber uint16
	SessionID     uint32
	DataRemaining uint64 // bytes of the message after this chunk
	Data          []byte // aliases the input
	Footer        uint32
}

// ParseV2 decodes the binary body of a P2P version 2 message. The footer
// is optional (clients add it through switchboards); every length is
// checked against the bytes there are.
func ParseV2(b []byte) (*V2Packet, error) {
	if len(b) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a version 2 header", ErrShortPacket, len(b))
	}
	hl := int(b[0])
	if hl < 8 || hl%4 != 0 || hl > len(b) {
		return nil, fmt.Errorf("%w: version 2 header length %d", ErrBadPacket, hl)
	}
	p := &V2Packet{OpCode: b[1], PayloadLen: binary.BigEndian.Uint16(b[2:]), Sequence: binary.BigEndian.Uint32(b[4:])}
	if p.OpCode&^(V2OpSYN|V2OpRAK) != 0 {
		return nil, fmt.Errorf("%w: version 2 operation code %#x", ErrBadPacket, p.OpCode)
	}
	err := walkTLVs(b[8:hl], func(t byte, v []byte) error {
		switch {
		case t == v2TLVPeerInfo:
			p.PeerInfo = v
		case t == v2TLVAck && len(v) == 4:
			p.AckSeq, p.HasAck = binary.BigEndian.Uint32(v), true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rest := b[hl:]
	switch len(rest) - int(p.PayloadLen) {
	case 0:
	case FooterSize:
		p.Footer = binary.BigEndian.Uint32(rest[len(rest)-FooterSize:])
		rest = rest[:len(rest)-FooterSize]
	default:
		return nil, fmt.Errorf("%w: version 2 payload of %d bytes announced, %d there", ErrBadPacket, p.PayloadLen, len(rest))
	}
	if p.PayloadLen == 0 {
		return p, nil
	}
	if len(rest) < 8 {
		return nil, fmt.Errorf("%w: version 2 data header cut short", ErrBadPacket)
	}
	dl := int(rest[0])
	if dl < 8 || dl%4 != 0 || dl > len(rest) {
		return nil, fmt.Errorf("%w: version 2 data header length %d", ErrBadPacket, dl)
	}
	p.TF, p.PackageNumber, p.SessionID = rest[1], binary.BigEndian.Uint16(rest[2:]), binary.BigEndian.Uint32(rest[4:])
	err = walkTLVs(rest[8:dl], func(t byte, v []byte) error {
		if t == v2TLVDataRemaining && len(v) == 8 {
			p.DataRemaining = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.Data = rest[dl:]
	return p, nil
}

// walkTLVs calls fn for each type-length-value of b; a zero type is
// padding and ends the list.
func walkTLVs(b []byte, fn func(t byte, v []byte) error) error {
	for i := 0; i < len(b); {
		t := b[i]
		if t == 0 {
			return nil
		}
		if i+2 > len(b) || i+2+int(b[i+1]) > len(b) {
			return fmt.Errorf("%w: version 2 TLV runs past its header", ErrBadPacket)
		}
		v := b[i+2 : i+2+int(b[i+1])]
		if err := fn(t, v); err != nil {
			return err
		}
		i += 2 + len(v)
	}
	return nil
}

// appendTLVHeader appends a header of fixed fields (4 bytes after the
// length byte's 4) and TLVs, padded to 4 bytes.
func appendTLVHeader(b []byte, second byte, mid uint16, last uint32, tlvs [][2][]byte) []byte {
	n := 8
	for _, tlv := range tlvs {
		n += 2 + len(tlv[1])
	}
	n = (n + 3) &^ 3
	start := len(b)
	b = append(b, byte(n), second)
	b = binary.BigEndian.AppendUint16(b, mid)
	b = binary.BigEndian.AppendUint32(b, last)
	for _, tlv := range tlvs {
		b = append(b, tlv[0][0], byte(len(tlv[1])))
		b = append(b, tlv[1]...)
	}
	for len(b)-start < n {
		b = append(b, 0)
	}
	return b
}

// AppendV2 appends the wire form of p (TLP header with its peer info and
// ack TLVs, the data header and data when there are data, and the footer)
// to b. PayloadLen is computed.
func (p *V2Packet) AppendV2(b []byte, withData bool) []byte {
	var tlvs [][2][]byte
	if p.PeerInfo != nil {
		tlvs = append(tlvs, [2][]byte{{v2TLVPeerInfo}, p.PeerInfo})
	}
	if p.HasAck {
		tlvs = append(tlvs, [2][]byte{{v2TLVAck}, binary.BigEndian.AppendUint32(nil, p.AckSeq)})
	}
	var payload []byte
	if withData {
		var dtlvs [][2][]byte
		if p.DataRemaining > 0 {
			dtlvs = append(dtlvs, [2][]byte{{v2TLVDataRemaining}, binary.BigEndian.AppendUint64(nil, p.DataRemaining)})
		}
		payload = appendTLVHeader(nil, p.TF, p.PackageNumber, p.SessionID, dtlvs)
		payload = append(payload, p.Data...)
	}
	b = appendTLVHeader(b, p.OpCode, uint16(len(payload)), p.Sequence, tlvs)
	b = append(b, payload...)
	return binary.BigEndian.AppendUint32(b, p.Footer)
}

// v2PeerInfo is the peer info TLV sent with our SYN: protocol version
// 0x0200, implementation id 0, peer-info version 0x0E00, reserved 0,
// capabilities 0x0000010F (MSNPSharp's constants), little-endian as
// MSNPSharp writes them.
var v2PeerInfo = []byte{0x00, 0x02, 0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x0F, 0x01, 0x00, 0x00}

// v2Link is the version 2 state with one peer endpoint: our sequence
// number and the MSNSLP message being reassembled.
type v2Link struct {
	seq     uint32
	slp     []byte
	expires time.Time
}

// maxV2Links bounds the endpoints with version 2 state at once.
const maxV2Links = 4 * maxAssemblies

// v2LinkLocked returns the version 2 state with an endpoint of peer,
// created if needed and kept for the call timeout after its last use; nil
// when too many endpoints have state. m.mu must be held.
func (m *Manager) v2LinkLocked(peer, endpoint string) *v2Link {
	if m.v2 == nil {
		m.v2 = make(map[string]*v2Link)
	}
	now := time.Now()
	for k, l := range m.v2 {
		if now.After(l.expires) {
			delete(m.v2, k)
		}
	}
	key := peer + ";" + endpoint
	l := m.v2[key]
	if l == nil {
		if len(m.v2) >= maxV2Links {
			return nil
		}
		l = &v2Link{seq: randUint32()}
		m.v2[key] = l
	}
	l.expires = now.Add(m.cfg.CallTimeout)
	return l
}

// handleV2 handles a P2P version 2 packet from the endpoint src of peer:
// it acknowledges what asks for it, reassembles MSNSLP and hands session
// data to its call. INVITEs go to the application handlers like version 1
// ones; only streamed receives (files) are accepted over version 2, other
// invitations are declined, so that the sender does not wait.
func (m *Manager) handleV2(peer, src string, pkt *V2Packet) {
	if pkt.OpCode&V2OpRAK != 0 {
		ack := &V2Packet{HasAck: true, AckSeq: pkt.Sequence + uint32(pkt.PayloadLen)}
		if pkt.OpCode&V2OpSYN != 0 && pkt.PayloadLen > 0 && !pkt.HasAck {
			// Acking a SYN is our SYN: it carries our peer info and asks
			// for an ack in turn.
			ack.OpCode, ack.PeerInfo = V2OpSYN|V2OpRAK, v2PeerInfo
		}
		m.sendV2(peer, src, ack, false)
	}
	if pkt.PayloadLen == 0 || len(pkt.Data) == 0 {
		return // acks and keep-alives
	}
	if pkt.SessionID != 0 {
		m.mu.Lock()
		m.v2LinkLocked(peer, src) // kept (our sequence with it) while data flows
		m.mu.Unlock()
		m.v2Data(peer, pkt)
		return
	}
	m.mu.Lock()
	l := m.v2LinkLocked(peer, src)
	if l == nil {
		m.mu.Unlock()
		m.log.Warn().Str("peer", peer).Msg("Dropping P2P version 2 message: too many endpoints at once")
		return
	}
	if pkt.TF&v2TFFirst != 0 {
		l.slp = l.slp[:0]
	}
	if len(l.slp)+len(pkt.Data) > maxSLPSize {
		l.slp = nil
		m.mu.Unlock()
		m.log.Warn().Str("peer", peer).Msg("Dropping P2P version 2 MSNSLP message over the size limit")
		return
	}
	l.slp = append(l.slp, pkt.Data...)
	if pkt.DataRemaining > 0 {
		m.mu.Unlock()
		return
	}
	buf := l.slp
	l.slp = nil
	m.mu.Unlock()
	slp, err := ParseSLP(buf)
	if err != nil {
		m.log.Warn().Err(err).Str("peer", peer).Msg("Dropping malformed P2P version 2 MSNSLP message")
		return
	}
	m.handleSLPV2(peer, src, slp)
}

// handleSLPV2 handles a complete MSNSLP message that came over version 2.
func (m *Manager) handleSLPV2(peer, src string, slp *SLPMessage) {
	callID := slp.CallID()
	m.mu.Lock()
	l := m.linkLocked(peer)
	c := l.calls[callID]
	m.dropLinkLocked(l)
	m.mu.Unlock()
	switch {
	case slp.Method == "INVITE" && slp.To() == m.cfg.Self && slp.ContentType() == SLPSessionReq:
		if c != nil {
			m.log.Debug().Str("peer", peer).Msg("Ignoring repeated MSNSLP INVITE over P2P version 2")
			return
		}
		sid, _ := strconv.ParseUint(slp.BodyFields()["sessionid"], 10, 32)
		c = &call{id: callID, branch: slp.Branch(), sessionID: uint32(sid), bye: make(chan struct{}),
			fail: make(chan error, 1), data: make(chan []byte, 1), v2src: src}
		m.mu.Lock()
		l = m.linkLocked(peer) // again: it may have been dropped meanwhile
		busy := len(l.calls) >= maxCallsPerPeer || l.calls[callID] != nil || (sid != 0 && l.callBySession(uint32(sid)) != nil)
		if !busy {
			l.calls[callID] = c
		}
		m.mu.Unlock()
		if busy {
			m.log.Warn().Str("peer", peer).Msg("Declining MSNSLP INVITE over P2P version 2: too many sessions with this peer")
			m.reply(peer, c, slp, 603, "Decline", "SessionID: "+strconv.FormatUint(sid, 10)+"\r\n\r\n")
			return
		}
		go m.serveInvite(peer, slp, c)
	case slp.Method == "INVITE" && slp.To() == m.cfg.Self && slp.ContentType() == SLPTransReq:
		// A direct-connection offer: answered "not listening", as over
		// version 1; the data then comes through the switchboard.
		m.sendSLPV2(peer, src, slp, newSLPResponse(slp, 200, "OK", SLPTransResp,
			"Bridge: TCPv1\r\nListening: false\r\nHashed-Nonce: {00000000-0000-0000-0000-000000000000}\r\n\r\n"))
	case slp.Method == "BYE":
		if c != nil {
			c.closeBye()
			if c.receiving {
				c.failWith(ErrClosed)
			}
		}
	default:
		m.log.Debug().Str("peer", peer).Str("method", slp.Method).Int("status", slp.StatusCode).Msg("Ignoring P2P version 2 MSNSLP message")
	}
}

// v2Data streams a data packet of a version 2 session to its call's sink;
// the message is complete when the announced size arrived.
func (m *Manager) v2Data(peer string, pkt *V2Packet) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.linkLocked(peer)
	defer m.dropLinkLocked(l)
	c := l.callBySession(pkt.SessionID)
	if c == nil || c.v2src == "" || !c.receiving || c.sink == nil {
		m.log.Debug().Str("peer", peer).Uint32("session", pkt.SessionID).Msg("Dropping P2P version 2 data for no session of ours")
		return
	}
	if n := c.v2got + int64(len(pkt.Data)); n > c.maxSize {
		c.failWith(fmt.Errorf("%w: more than the %d bytes announced", ErrTooLarge, c.maxSize))
		return
	}
	if _, err := c.sink.Write(pkt.Data); err != nil {
		c.failWith(fmt.Errorf("p2p: store received data: %w", err))
		return
	}
	c.v2got += int64(len(pkt.Data))
	select {
	case c.progress <- struct{}{}:
	default:
	}
	if c.v2got == c.maxSize {
		select {
		case c.data <- nil:
		default:
		}
	}
}

// sendSLPV2 sends an MSNSLP response to req over version 2, addressed to
// the endpoints the request named.
func (m *Manager) sendSLPV2(peer, src string, req, resp *SLPMessage) {
	resp.Set("To", req.Get("From"))
	resp.Set("From", req.Get("To"))
	m.sendV2(peer, src, &V2Packet{OpCode: V2OpRAK, TF: v2TFFirst, Data: resp.Marshal()}, true)
}

// sendByeV2 closes a version 2 call with BYE.
func (m *Manager) sendByeV2(peer string, c *call) {
	self := m.cfg.Self
	if m.cfg.SelfGUID != "" {
		self += ";{" + m.cfg.SelfGUID + "}"
	}
	bye := newSLPRequest("BYE", self, peer+";{"+c.v2src+"}", newGUID(), c.id, 0, SLPSessionClose, "\r\n")
	m.sendV2(peer, c.v2src, &V2Packet{OpCode: V2OpRAK, TF: v2TFFirst, Data: bye.Marshal()}, true)
}

// sendV2 sends one version 2 packet to the endpoint dest of peer,
// numbered from our sequence with that endpoint.
func (m *Manager) sendV2(peer, dest string, pkt *V2Packet, withData bool) {
	self := m.cfg.Self
	if m.cfg.SelfGUID != "" {
		self += ";{" + m.cfg.SelfGUID + "}"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.v2LinkLocked(peer, dest)
	if l == nil {
		return
	}
	pkt.Sequence = l.seq
	body := pkt.AppendV2(nil, withData)
	if withData {
		l.seq += uint32(binary.BigEndian.Uint16(body[2:]))
	}
	// Queued under m.mu, in sequence order: the peer must get our SYN
	// (the ack of its SYN) before anything numbered after it.
	if m.v2out == nil {
		m.v2out = make(chan v2Out, maxV2Queue)
		go m.runV2Out(m.v2out)
	}
	select {
	case m.v2out <- v2Out{peer: peer, payload: AppendEnvelopeV2(nil, peer+";{"+dest+"}", self, body)}:
	default:
		m.log.Warn().Str("peer", peer).Msg("Dropping P2P version 2 message: too many waiting to be sent")
	}
}

// maxV2Queue bounds the version 2 messages waiting to be sent.
const maxV2Queue = 256

// v2Out is a version 2 message waiting to be sent.
type v2Out struct {
	peer    string
	payload []byte
}

// runV2Out sends the queued version 2 messages one at a time, in order,
// until the manager stops.
func (m *Manager) runV2Out(q <-chan v2Out) {
	for {
		select {
		case out := <-q:
			ctx, cancel := context.WithTimeout(m.ctx, m.cfg.AckTimeout)
			if err := m.cfg.Send(ctx, out.peer, out.payload); err != nil {
				m.log.Debug().Err(err).Str("peer", out.peer).Msg("Could not send P2P version 2 message")
			}
			cancel()
		case <-m.ctx.Done():
			return
		}
	}
}

// AppendEnvelopeV2 appends the MIME headers of a P2P version 2 message
// (destination and source endpoints, "email;{guid}") and then body.
func AppendEnvelopeV2(b []byte, dest, src string, body []byte) []byte {
	clean := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, s)
	}
	b = append(b, "MIME-Version: 1.0\r\nContent-Type: "+ContentType+"\r\nP2P-Dest: "+clean(dest)+"\r\nP2P-Src: "+clean(src)+"\r\n\r\n"...)
	return append(b, body...)
}
