package p2p

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Defaults of Config.
const (
	DefaultChunkSize   = 1202    // data bytes per chunk: the payload stays under 1,664 bytes
	DefaultMaxDataSize = 1 << 20 // largest data message accepted
	DefaultAckTimeout  = 30 * time.Second
	DefaultCallTimeout = 2 * time.Minute
	maxSLPSize         = 64 << 10 // largest MSNSLP message accepted
	maxAssemblies      = 16       // messages being reassembled per peer
	maxCallsPerPeer    = 8        // open calls per peer; more INVITEs are declined
)

// Errors of calls.
var (
	ErrDeclined  = errors.New("p2p: the peer declined the invitation")
	ErrClosed    = errors.New("p2p: the peer closed the session before the data arrived")
	ErrTimeout   = errors.New("p2p: the transfer did not finish in time")
	ErrTooLarge  = errors.New("p2p: the data is over the size limit")
	ErrStopped   = errors.New("p2p: manager stopped")
	ErrPeerError = errors.New("p2p: the peer reported an error")
	// ErrStalled wraps ErrTimeout when an accepted offer's data was not
	// acknowledged in time: the peer accepted, then stopped answering.
	ErrStalled = errors.New("p2p: the peer stopped acknowledging the data")
)

// SendFunc sends one switchboard MSG payload (P2P envelope and packet) to
// peer and returns when the switchboard server accepted it.
type SendFunc func(ctx context.Context, peer string, payload []byte) error

// StartFunc writes one switchboard MSG payload to peer and returns at once
// with a function that waits until the server accepted it. A stream calls
// it for its chunks one after the other, so they go out in order.
type StartFunc func(ctx context.Context, peer string, payload []byte) (wait func() error, err error)

// DefaultWindow is how many chunks of a message may await the server's
// acceptance at once when Config.Start is set.
const DefaultWindow = 16

// Config configures a Manager.
type Config struct {
	Self     string // our email
	SelfGUID string // our endpoint GUID (MSNP16+); messages for another endpoint are ignored
	Send     SendFunc
	// Start, when set, pipelines the chunks of a message: up to Window
	// (default DefaultWindow) are written before the first is accepted,
	// as real clients stream, instead of one round trip per chunk.
	Start       StartFunc
	Window      int
	ChunkSize   int           // data bytes per chunk; default DefaultChunkSize
	MaxDataSize int64         // largest data message accepted; default DefaultMaxDataSize
	AckTimeout  time.Duration // how long to wait for the peer's ack of a message we send
	CallTimeout time.Duration // how long a whole call may take
	Logger      zerolog.Logger
}

// Invite is an incoming MSNSLP INVITE for a session.
type Invite struct {
	EUFGUID   string
	AppID     uint32
	SessionID uint32
	CallID    string
	Context   []byte // the decoded Context field
}

// Answer is an application's answer to an Invite: decline, send data to
// the inviter (an MSN object they asked for) or receive data from them (a
// file they offer).
type Answer struct {
	Accept    bool
	Data      []byte // sent to the inviter once accepted
	DataPrep  bool   // send (or, with Receive, expect) the data-preparation message first
	DataFlags uint32 // flags of the data chunks (FlagMSNObjData, FlagFileData)

	// Receive makes the accepted session wait for the inviter's data, at
	// most MaxSize bytes (0: the manager's MaxDataSize), and hand it to
	// OnData, or the reason it did not arrive. The session is then closed
	// with BYE.
	Receive bool
	MaxSize int64
	OnData  func(data []byte, err error)

	// Sink, with Receive, streams the data: each chunk is written to it as
	// it arrives instead of being held in memory, OnData then gets nil
	// data, and MaxSize is not capped by the manager's MaxDataSize (a
	// file). A write error ends the call. StallTimeout bounds the wait for
	// the next chunk (0: the call timeout); the whole call is then bounded
	// by the manager's life only.
	Sink         io.Writer
	StallTimeout time.Duration
}

// Offer is an invitation we send to give data to a peer (a file).
type Offer struct {
	EUFGUID   string
	AppID     uint32
	Context   []byte
	Data      []byte
	DataPrep  bool
	DataFlags uint32

	// Reader, when set, is read for the data instead of Data: Size bytes,
	// a chunk at a time (a file, never held in memory whole).
	Reader io.Reader
	Size   int64
}

// InviteHandler answers an invitation from peer. It runs in its own
// goroutine and may block until ctx ends.
type InviteHandler func(ctx context.Context, peer string, inv *Invite) Answer

// Request is an invitation we send to get data from a peer.
type Request struct {
	EUFGUID  string
	AppID    uint32
	Context  []byte // encoded as base64 in the INVITE
	MaxSize  int64  // largest data accepted; 0: the manager's MaxDataSize
	DataPrep bool   // the peer sends a data-preparation message first
}

// Manager runs the P2P sessions of one account with all its peers.
type Manager struct {
	cfg Config
	log zerolog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu       sync.Mutex
	links    map[string]*link
	handlers map[string]InviteHandler // by upper-case EUF-GUID
	v2       map[string]*v2Link       // by "peer;endpoint", P2P version 2 (v2.go)
	v2out    chan v2Out               // version 2 messages to send, in order
	bare     map[uint32]bareHandler   // by session id; see HandleBare
}

// link is the state shared with one peer.
type link struct {
	peer    string
	nextID  uint32
	inbound map[uint32]*assembly // by the peer's Identifier
	acks    map[uint32]chan struct{}
	calls   map[string]*call // by Call-ID
}

// assembly is a message being reassembled.
type assembly struct {
	first   Header
	buf     []byte
	got     uint64 // bytes received (written to the call's sink when streaming)
	expires time.Time
	call    *call // data of this call; nil for MSNSLP
}

// call is one MSNSLP call (one session).
type call struct {
	id        string
	branch    string
	sessionID uint32
	appID     uint32
	receiving bool // data is expected from the peer on this call
	maxSize   int64
	dataPrep  bool
	prepSeen  bool
	sink      io.Writer     // streaming receive; see Answer.Sink
	started   bool          // the streamed data message began (one per call)
	progress  chan struct{} // a chunk was written to sink

	// v2src is the peer endpoint of a call it invited us to over P2P
	// version 2 (v2.go); "" for version 1. v2got counts its data bytes.
	v2src string
	v2got int64

	resp chan *SLPMessage // responses to our INVITE; nil when the peer invited
	data chan []byte      // the complete data message
	fail chan error       // BYE before the data, peer error
	bye  chan struct{}    // closed when the peer sent BYE
	once sync.Once
}

func (c *call) closeBye() { c.once.Do(func() { close(c.bye) }) }

// NewManager returns a manager; Stop ends its calls.
func NewManager(cfg Config) *Manager {
	if cfg.ChunkSize <= 0 {
		cfg.ChunkSize = DefaultChunkSize
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MaxDataSize <= 0 {
		cfg.MaxDataSize = DefaultMaxDataSize
	}
	if cfg.AckTimeout <= 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = DefaultCallTimeout
	}
	cfg.Self = strings.ToLower(cfg.Self)
	cfg.SelfGUID = strings.ToLower(strings.Trim(cfg.SelfGUID, "{}"))
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg:      cfg,
		log:      cfg.Logger,
		ctx:      ctx,
		cancel:   cancel,
		links:    make(map[string]*link),
		handlers: make(map[string]InviteHandler),
		bare:     make(map[uint32]bareHandler),
	}
}

// Stop ends every call in progress; the manager is not used again.
func (m *Manager) Stop() { m.cancel() }

// Abort ends every call in progress with err (the connection to the peers
// is gone) and drops partial messages; the manager stays usable.
func (m *Manager) Abort(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for peer, l := range m.links {
		for _, c := range l.calls {
			c.failWith(err)
			c.closeBye()
		}
		clear(l.inbound)
		m.log.Debug().Str("peer", peer).Int("calls", len(l.calls)).Msg("P2P calls aborted")
	}
}

// HandleInvites registers the handler of invitations with this EUF-GUID.
// Invitations of other applications are declined.
func (m *Manager) HandleInvites(eufGUID string, h InviteHandler) {
	m.mu.Lock()
	m.handlers[strings.ToUpper(eufGUID)] = h
	m.mu.Unlock()
}

// linkLocked returns the link with peer, creating it. m.mu must be held.
func (m *Manager) linkLocked(peer string) *link {
	l := m.links[peer]
	if l == nil {
		l = &link{
			peer:    peer,
			nextID:  randUint32()%0x7fff0000 + 4,
			inbound: make(map[uint32]*assembly),
			acks:    make(map[uint32]chan struct{}),
			calls:   make(map[string]*call),
		}
		m.links[peer] = l
	}
	return l
}

// dropLinkLocked forgets an idle link. m.mu must be held.
func (m *Manager) dropLinkLocked(l *link) {
	if len(l.inbound) == 0 && len(l.acks) == 0 && len(l.calls) == 0 && m.links[l.peer] == l {
		delete(m.links, l.peer)
	}
}

// InFlight returns how many messages are being reassembled and how many
// calls are open, over all peers.
func (m *Manager) InFlight() (assemblies, calls int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.links {
		assemblies += len(l.inbound)
		calls += len(l.calls)
	}
	return assemblies, calls
}

// HandleMessage takes a P2P switchboard payload relayed from peer. It
// never blocks: replies are sent from other goroutines. Messages not for
// us and malformed ones are logged and dropped.
func (m *Manager) HandleMessage(peer string, payload []byte) {
	peer = strings.ToLower(peer)
	env, err := ParseEnvelope(payload)
	if err != nil {
		m.log.Warn().Err(err).Str("peer", peer).Msg("Dropping malformed P2P message")
		return
	}
	if dest := env.DestEmail(); dest != m.cfg.Self {
		m.log.Trace().Str("peer", peer).Str("dest", dest).Msg("Ignoring P2P message for someone else")
		return
	}
	if g := env.DestGUID(); g != "" && m.cfg.SelfGUID != "" && g != m.cfg.SelfGUID {
		m.log.Trace().Str("peer", peer).Msg("Ignoring P2P message for another endpoint of ours")
		return
	}
	pkt, err := ParsePacket(env.Body)
	if err != nil {
		if src := endpointGUID(env.Src); src != "" && env.DestGUID() != "" {
			// Endpoint-addressed and not a valid version 1 packet: P2P
			// version 2, which WLM 2009 uses only with peers announcing
			// it. We never announce it; its invitations are declined
			// over version 2 so the sender does not wait.
			v2, err := ParseV2(env.Body)
			if err != nil {
				m.log.Warn().Err(err).Str("peer", peer).Msg("Dropping malformed P2P version 2 message")
				return
			}
			m.handleV2(peer, src, v2)
			return
		}
		m.log.Warn().Err(err).Str("peer", peer).Msg("Dropping malformed P2P packet")
		return
	}
	m.handlePacket(peer, pkt)
}

func (m *Manager) handlePacket(peer string, pkt *Packet) {
	h := pkt.Header
	m.mu.Lock()
	l := m.linkLocked(peer)
	if h.IsAck() {
		if ch := l.acks[h.AckSessionID]; ch != nil {
			delete(l.acks, h.AckSessionID)
			close(ch)
		}
		m.dropLinkLocked(l)
		m.mu.Unlock()
		return
	}
	if h.Flags&(FlagError|FlagTLPError|FlagNegativeAck) != 0 {
		c := l.callBySession(h.SessionID)
		m.mu.Unlock()
		m.log.Warn().Str("peer", peer).Uint32("flags", h.Flags).Uint32("session", h.SessionID).Msg("Peer reported a P2P error")
		if c != nil {
			c.failWith(fmt.Errorf("%w (flags %#x)", ErrPeerError, h.Flags))
		}
		return
	}
	if h.TotalSize == 0 {
		// Empty and not an ack: a session-close or keep-alive signal some
		// clients send (flag 0x40); nothing to reassemble or answer.
		m.dropLinkLocked(l)
		m.mu.Unlock()
		m.log.Debug().Str("peer", peer).Uint32("flags", h.Flags).Msg("Ignoring empty P2P message")
		return
	}
	a, err := m.assembleLocked(l, pkt)
	if a != nil && a.call != nil && m.isDataPrepLocked(a) {
		a = nil // the data-preparation message: acked, not data
		go m.sendAck(peer, pkt.Header)
	}
	m.dropLinkLocked(l)
	if err != nil {
		m.mu.Unlock()
		m.log.Warn().Err(err).Str("peer", peer).Uint32("session", h.SessionID).Uint32("id", h.Identifier).Msg("Dropping P2P message")
		return
	}
	m.mu.Unlock()
	if a == nil {
		return // more chunks to come
	}
	if a.first.SessionID != 0 && a.call == nil {
		go m.deliverBare(peer, a) // see HandleBare
		return
	}
	if a.first.SessionID != 0 {
		// Ack before the call learns of its data: the BYE that may follow
		// then reaches the sender after the ack, as it expects.
		go func() {
			m.sendAck(peer, a.first)
			m.deliverData(peer, a)
		}()
		return
	}
	go m.sendAck(peer, a.first)
	slp, err := ParseSLP(a.buf)
	if err != nil {
		m.log.Warn().Err(err).Str("peer", peer).Msg("Dropping malformed MSNSLP message")
		return
	}
	m.handleSLP(peer, slp)
}

func (l *link) callBySession(sid uint32) *call {
	if sid == 0 {
		return nil
	}
	for _, c := range l.calls {
		if c.sessionID == sid {
			return c
		}
	}
	return nil
}

func (c *call) failWith(err error) {
	select {
	case c.fail <- err:
	default:
	}
}

// assembleLocked adds a chunk; it returns the message once whole, nil while
// chunks are missing, or an error when the chunk is refused (the partial
// message is then dropped). m.mu must be held.
func (m *Manager) assembleLocked(l *link, pkt *Packet) (*assembly, error) {
	h := pkt.Header
	now := time.Now()
	for id, a := range l.inbound {
		if now.After(a.expires) {
			delete(l.inbound, id)
			m.log.Warn().Str("peer", l.peer).Uint32("id", id).Uint64("got", a.got).Uint64("total", a.first.TotalSize).
				Msg("P2P message did not arrive whole in time, dropped")
			if a.call != nil {
				a.call.failWith(ErrTimeout)
			}
		}
	}
	a := l.inbound[h.Identifier]
	if a == nil {
		if h.Offset != 0 {
			err := fmt.Errorf("%w: chunk at offset %d of a message we have no start of", ErrBadPacket, h.Offset)
			if c := l.callBySession(h.SessionID); c != nil && c.receiving {
				// The start of the call's data was lost: the message can
				// never be whole, so the call fails now rather than at its
				// timeout.
				c.failWith(err)
			}
			return nil, err
		}
		var c *call
		limit := int64(maxSLPSize)
		if h.SessionID != 0 {
			c = l.callBySession(h.SessionID)
			bare, isBare := m.bare[h.SessionID]
			switch {
			case c == nil && isBare:
				limit = bare.maxSize
			case c == nil || !c.receiving:
				return nil, fmt.Errorf("data for unknown session %d", h.SessionID)
			default:
				limit = c.maxSize
			}
			if c != nil && c.sink != nil {
				if c.started {
					return nil, fmt.Errorf("%w: a second data message on streamed session %d", ErrBadPacket, h.SessionID)
				}
				c.started = true
			}
		}
		if h.TotalSize > uint64(limit) {
			if c != nil {
				c.failWith(fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, h.TotalSize, limit))
			} else if bare, ok := m.bare[h.SessionID]; ok && h.SessionID != 0 {
				go bare.fn(l.peer, nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, h.TotalSize, limit))
			}
			return nil, fmt.Errorf("%w: %d bytes announced, limit %d", ErrTooLarge, h.TotalSize, limit)
		}
		if len(l.inbound) >= maxAssemblies {
			return nil, fmt.Errorf("too many P2P messages in flight from %s", l.peer)
		}
		a = &assembly{first: h, expires: now.Add(m.cfg.CallTimeout), call: c}
		l.inbound[h.Identifier] = a
	}
	switch {
	case h.TotalSize != a.first.TotalSize || h.SessionID != a.first.SessionID:
		delete(l.inbound, h.Identifier)
		err := fmt.Errorf("%w: chunk of message %d changes its size or session", ErrBadPacket, h.Identifier)
		if a.call != nil {
			a.call.failWith(err)
		}
		return nil, err
	case h.Offset != a.got || uint64(len(pkt.Data)) > h.TotalSize-h.Offset:
		delete(l.inbound, h.Identifier)
		err := fmt.Errorf("%w: chunk of %d bytes at offset %d, expected offset %d of %d", ErrBadPacket, len(pkt.Data), h.Offset, a.got, h.TotalSize)
		if a.call != nil {
			a.call.failWith(err)
		}
		return nil, err
	}
	if c := a.call; c != nil && c.sink != nil {
		if _, err := c.sink.Write(pkt.Data); err != nil {
			delete(l.inbound, h.Identifier)
			err = fmt.Errorf("p2p: store received data: %w", err)
			c.failWith(err)
			return nil, err
		}
		a.expires = now.Add(m.cfg.CallTimeout)
		select {
		case c.progress <- struct{}{}:
		default:
		}
	} else {
		a.buf = append(a.buf, pkt.Data...)
	}
	a.got += uint64(len(pkt.Data))
	if a.got < h.TotalSize {
		return nil, nil
	}
	delete(l.inbound, h.Identifier)
	return a, nil
}

// isDataPrepLocked reports whether a complete message is its call's
// data-preparation message (4 zero bytes, no flags), and marks it seen.
// m.mu must be held.
func (m *Manager) isDataPrepLocked(a *assembly) bool {
	c := a.call
	if c.dataPrep && c.sink == nil && !c.prepSeen && a.first.TotalSize == 4 && a.first.Flags == FlagNormal &&
		binary.LittleEndian.Uint32(a.buf) == 0 {
		c.prepSeen = true
		return true
	}
	return false
}

// deliverData hands a complete data message to its call.
func (m *Manager) deliverData(peer string, a *assembly) {
	c := a.call
	select {
	case c.data <- a.buf:
	default:
		m.log.Warn().Str("peer", peer).Uint32("session", c.sessionID).Msg("Dropping extra P2P data message")
	}
}

// handleSLP handles a complete MSNSLP message.
func (m *Manager) handleSLP(peer string, slp *SLPMessage) {
	callID := slp.CallID()
	m.mu.Lock()
	l := m.linkLocked(peer)
	c := l.calls[callID]
	m.mu.Unlock()
	switch {
	case slp.IsResponse():
		if c == nil || c.resp == nil {
			m.log.Debug().Str("peer", peer).Int("status", slp.StatusCode).Msg("MSNSLP response for no call of ours")
			return
		}
		select {
		case c.resp <- slp:
		default:
		}
	case slp.Method == "INVITE":
		if slp.To() != m.cfg.Self {
			m.log.Debug().Str("peer", peer).Str("to", slp.To()).Msg("Ignoring MSNSLP INVITE for someone else")
			return
		}
		switch slp.ContentType() {
		case SLPSessionReq:
			if c != nil {
				m.log.Debug().Str("peer", peer).Msg("Ignoring repeated MSNSLP INVITE")
				return
			}
			sid, _ := strconv.ParseUint(slp.BodyFields()["sessionid"], 10, 32)
			m.mu.Lock()
			busy := len(l.calls) >= maxCallsPerPeer
			c = &call{id: callID, branch: slp.Branch(), sessionID: uint32(sid), bye: make(chan struct{}),
				fail: make(chan error, 1), data: make(chan []byte, 1)}
			if !busy {
				l.calls[callID] = c // counted from now on
			}
			m.mu.Unlock()
			if busy {
				m.log.Warn().Str("peer", peer).Msg("Declining MSNSLP INVITE: too many sessions with this peer")
				go m.sendSLP(peer, newSLPResponse(slp, 603, "Decline", SLPSessionReq, "SessionID: "+slp.BodyFields()["sessionid"]+"\r\n\r\n"), false)
				return
			}
			go m.serveInvite(peer, slp, c)
		case SLPTransReq:
			// A direct-connection offer: we only use the switchboard.
			// Answer as libpurple does when it cannot listen; peers then
			// keep sending through the switchboard.
			go m.sendSLP(peer, newSLPResponse(slp, 200, "OK", SLPTransResp,
				"Bridge: TCPv1\r\nListening: false\r\nHashed-Nonce: {00000000-0000-0000-0000-000000000000}\r\n\r\n"), false)
		default:
			go m.sendSLP(peer, newSLPResponse(slp, 500, "Internal Error", slp.Get("Content-Type"), "\r\n"), false)
		}
	case slp.Method == "BYE":
		if c != nil {
			c.closeBye()
			if c.receiving {
				c.failWith(ErrClosed)
			}
		}
	default:
		m.log.Debug().Str("peer", peer).Str("method", slp.Method).Msg("Ignoring MSNSLP request")
	}
}

// nextID reserves the next message identifier for peer.
func (m *Manager) nextID(peer string) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.linkLocked(peer)
	id := l.nextID
	l.nextID++
	return id
}

// sendAck acknowledges a complete message.
func (m *Manager) sendAck(peer string, acked Header) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.AckTimeout)
	defer cancel()
	pkt := &Packet{Header: Header{
		SessionID:    acked.SessionID,
		Identifier:   m.nextID(peer),
		TotalSize:    acked.TotalSize,
		Flags:        FlagAck,
		AckSessionID: acked.Identifier,
		AckUniqueID:  acked.AckSessionID,
		AckDataSize:  acked.TotalSize,
	}}
	if err := m.cfg.Send(ctx, peer, AppendEnvelope(nil, peer, pkt.AppendPacket(nil))); err != nil {
		m.log.Debug().Err(err).Str("peer", peer).Msg("Could not send P2P ack")
	}
}

// sendMessage sends one message in chunks; with waitAck it returns once the
// peer acknowledged it.
func (m *Manager) sendMessage(ctx context.Context, peer string, sessionID, flags, footer uint32, data []byte, waitAck bool) error {
	return m.sendStream(ctx, peer, sessionID, flags, footer, bytes.NewReader(data), uint64(len(data)), waitAck)
}

// sendStream sends one message of total bytes read from r, in chunks; with
// waitAck it returns once the peer acknowledged it.
func (m *Manager) sendStream(ctx context.Context, peer string, sessionID, flags, footer uint32, r io.Reader, total uint64, waitAck bool) error {
	id := m.nextID(peer)
	var acked chan struct{}
	if waitAck {
		acked = make(chan struct{})
		m.mu.Lock()
		m.linkLocked(peer).acks[id] = acked
		m.mu.Unlock()
		defer func() {
			m.mu.Lock()
			l := m.linkLocked(peer)
			delete(l.acks, id)
			m.dropLinkLocked(l)
			m.mu.Unlock()
		}()
	}
	unique := randUint32()
	w := &chunkWriter{m: m}
	defer w.abandon()
	buf := make([]byte, 0, 160+HeaderSize+m.cfg.ChunkSize+FooterSize)
	chunk := make([]byte, m.cfg.ChunkSize)
	for off := uint64(0); off == 0 || off < total; {
		n := min(uint64(m.cfg.ChunkSize), total-off)
		if _, err := io.ReadFull(r, chunk[:n]); err != nil {
			return fmt.Errorf("read data at %d of %d: %w", off, total, err)
		}
		pkt := Packet{
			Header: Header{
				SessionID: sessionID, Identifier: id, Offset: off, TotalSize: total,
				MessageSize: uint32(n), Flags: flags, AckSessionID: unique,
			},
			Data:   chunk[:n],
			Footer: footer,
		}
		buf = AppendEnvelope(buf[:0], peer, pkt.AppendPacket(nil))
		if err := w.send(ctx, peer, buf, off); err != nil {
			return ackedAnyway(acked, err, off, total)
		}
		off += n
		if total == 0 {
			break
		}
	}
	if err := w.flush(0); err != nil {
		return ackedAnyway(acked, err, total, total)
	}
	if !waitAck {
		return nil
	}
	t := time.NewTimer(m.cfg.AckTimeout)
	defer t.Stop()
	select {
	case <-acked:
		return nil
	case <-t.C:
		return fmt.Errorf("%w: no ack of message %d", ErrTimeout, id)
	case <-ctx.Done():
		select {
		case <-acked: // the ack won the race with the end of ctx
			return nil
		default:
		}
		return ctx.Err()
	}
}

// chunkWriter sends the chunks of one message: one at a time with
// Config.Send, or pipelined with Config.Start, Window at a time.
type chunkWriter struct {
	m       *Manager
	pending []pendingChunk
}

type pendingChunk struct {
	off  uint64
	wait func() error
}

// send writes one chunk; with Start it first waits for the oldest chunks
// so that at most Window are outstanding.
func (w *chunkWriter) send(ctx context.Context, peer string, payload []byte, off uint64) error {
	if w.m.cfg.Start == nil {
		return w.m.cfg.Send(ctx, peer, payload)
	}
	if err := w.flush(w.m.cfg.Window - 1); err != nil {
		return err
	}
	wait, err := w.m.cfg.Start(ctx, peer, payload)
	if err != nil {
		return err
	}
	w.pending = append(w.pending, pendingChunk{off: off, wait: wait})
	return nil
}

// flush waits until at most keep chunks are outstanding.
func (w *chunkWriter) flush(keep int) error {
	for len(w.pending) > keep {
		c := w.pending[0]
		w.pending = w.pending[1:]
		if err := c.wait(); err != nil {
			w.abandon()
			return fmt.Errorf("chunk at %d: %w", c.off, err)
		}
	}
	return nil
}

// abandon stops waiting for outstanding chunks (the message failed); their
// waits end in the background, bounded by the switchboard's timeout.
func (w *chunkWriter) abandon() {
	if len(w.pending) == 0 {
		return
	}
	rest := w.pending
	w.pending = nil
	go func() {
		for _, c := range rest {
			_ = c.wait()
		}
	}()
}

// ackedAnyway is the result of a message whose last chunks failed to send:
// nil when the peer acknowledged the whole message all the same (its last
// chunk arrived), else the send error.
func ackedAnyway(acked chan struct{}, err error, off, total uint64) error {
	if acked != nil {
		select {
		case <-acked: // the last chunk arrived: the peer acked it
			return nil
		default:
		}
	}
	return fmt.Errorf("send P2P chunk at %d of %d: %w", off, total, err)
}

// sendSLP sends an MSNSLP message (session 0, footer 0).
func (m *Manager) sendSLP(peer string, slp *SLPMessage, waitAck bool) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.AckTimeout)
	defer cancel()
	if err := m.sendSLPCtx(ctx, peer, slp, waitAck); err != nil {
		m.log.Debug().Err(err).Str("peer", peer).Msg("Could not send MSNSLP message")
	}
}

func (m *Manager) sendSLPCtx(ctx context.Context, peer string, slp *SLPMessage, waitAck bool) error {
	return m.sendMessage(ctx, peer, 0, FlagNormal, 0, slp.Marshal(), waitAck)
}

// serveInvite answers an incoming INVITE and, when accepted, sends the
// data.
func (m *Manager) serveInvite(peer string, slp *SLPMessage, c *call) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.CallTimeout)
	defer cancel()
	defer m.removeCall(peer, c)
	f := slp.BodyFields()
	sid64, err := strconv.ParseUint(f["sessionid"], 10, 32)
	inv := &Invite{EUFGUID: strings.ToUpper(f["euf-guid"]), SessionID: uint32(sid64), CallID: slp.CallID()}
	sessionBody := "SessionID: " + f["sessionid"] + "\r\n\r\n"
	if err != nil || sid64 == 0 {
		m.log.Warn().Str("peer", peer).Str("session", truncate(f["sessionid"], 16)).Msg("Declining MSNSLP INVITE without a valid SessionID")
		m.reply(peer, c, slp, 500, "Internal Error", sessionBody)
		return
	}
	if app, err := strconv.ParseUint(f["appid"], 10, 32); err == nil {
		inv.AppID = uint32(app)
	}
	if ctxField := f["context"]; ctxField != "" {
		inv.Context, err = base64.StdEncoding.DecodeString(ctxField)
		if err != nil {
			m.log.Warn().Err(err).Str("peer", peer).Msg("Declining MSNSLP INVITE with a bad Context")
			m.reply(peer, c, slp, 500, "Internal Error", sessionBody)
			return
		}
	}
	m.mu.Lock()
	h := m.handlers[inv.EUFGUID]
	m.mu.Unlock()
	var ans Answer
	if h != nil {
		ans = h(ctx, peer, inv)
	}
	if ans.Accept && c.v2src != "" && (!ans.Receive || ans.Sink == nil) {
		// Over version 2 only streamed receives (files) are supported.
		m.log.Info().Str("peer", peer).Str("euf_guid", inv.EUFGUID).Msg("Declining an invitation over P2P version 2: only receiving files is supported")
		ans.Accept = false
	}
	if !ans.Accept {
		m.log.Debug().Str("peer", peer).Str("euf_guid", inv.EUFGUID).Msg("Declining MSNSLP INVITE")
		m.reply(peer, c, slp, 603, "Decline", sessionBody)
		return
	}
	log := m.log.With().Str("peer", peer).Uint32("session", inv.SessionID).Logger()
	if ans.Receive {
		m.mu.Lock()
		c.receiving, c.dataPrep, c.maxSize = true, ans.DataPrep, m.limit(ans.MaxSize)
		if ans.Sink != nil {
			c.sink, c.progress, c.maxSize = ans.Sink, make(chan struct{}, 1), ans.MaxSize
		}
		m.mu.Unlock()
	}
	if err := m.accept(ctx, peer, c, slp, sessionBody); err != nil {
		log.Warn().Err(err).Msg("P2P session not acknowledged")
		if ans.OnData != nil {
			ans.OnData(nil, err)
		}
		return
	}
	if ans.Receive {
		var data []byte
		if ans.Sink != nil {
			err = m.waitStream(c, ans.StallTimeout)
			m.endStream(peer, c)
			if err != nil {
				// Tell the sender we gave up, so that it stops sending.
				m.sendBye(peer, c)
			}
		} else {
			data, err = m.waitData(ctx, c)
		}
		if ans.OnData != nil {
			ans.OnData(data, err)
		}
		if err == nil {
			m.sendBye(peer, c)
		}
		return
	}
	if ans.DataPrep {
		if err := m.sendMessage(ctx, peer, inv.SessionID, FlagNormal, inv.AppID, make([]byte, 4), true); err != nil {
			log.Warn().Err(err).Msg("P2P data preparation not acknowledged")
			m.giveUp(peer, c)
			return
		}
	}
	if err := m.sendMessage(ctx, peer, inv.SessionID, ans.DataFlags, inv.AppID, ans.Data, true); err != nil {
		log.Warn().Err(err).Msg("P2P data not delivered")
		m.giveUp(peer, c)
		return
	}
	log.Debug().Int("bytes", len(ans.Data)).Msg("P2P data sent")
	// The peer closes the session with BYE; wait a little for it so that it
	// is recognised, then forget the call either way.
	t := time.NewTimer(m.cfg.AckTimeout)
	defer t.Stop()
	select {
	case <-c.bye:
	case <-t.C:
	case <-ctx.Done():
	}
}

// giveUp ends a call whose data we could not deliver with BYE, unless the
// peer closed it already: the peer then fails at once instead of waiting
// for data that will not come.
func (m *Manager) giveUp(peer string, c *call) {
	select {
	case <-c.bye:
	default:
		m.sendBye(peer, c)
	}
}

// reply answers an INVITE with a status and no session, over the version
// of P2P the INVITE came on.
func (m *Manager) reply(peer string, c *call, slp *SLPMessage, code int, reason, body string) {
	resp := newSLPResponse(slp, code, reason, SLPSessionReq, body)
	if c.v2src != "" {
		m.sendSLPV2(peer, c.v2src, slp, resp)
		return
	}
	m.sendSLP(peer, resp, false)
}

// accept answers an INVITE with 200 OK; over version 1 it returns once
// the peer acknowledged it.
func (m *Manager) accept(ctx context.Context, peer string, c *call, slp *SLPMessage, body string) error {
	resp := newSLPResponse(slp, 200, "OK", SLPSessionReq, body)
	if c.v2src != "" {
		m.sendSLPV2(peer, c.v2src, slp, resp)
		return nil
	}
	return m.sendSLPCtx(ctx, peer, resp, true)
}

func (m *Manager) removeCall(peer string, c *call) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.linkLocked(peer)
	if l.calls[c.id] == c {
		delete(l.calls, c.id)
	}
	for id, a := range l.inbound {
		if a.call == c {
			delete(l.inbound, id)
		}
	}
	m.dropLinkLocked(l)
}

// limit returns the size limit of a call: max, capped by MaxDataSize.
func (m *Manager) limit(max int64) int64 {
	if max <= 0 || max > m.cfg.MaxDataSize {
		return m.cfg.MaxDataSize
	}
	return max
}

// invite registers a new call with peer, sends its INVITE and returns once
// the peer accepted it. The caller removes the call.
func (m *Manager) invite(ctx context.Context, peer, eufGUID string, appID uint32, context []byte, c *call) error {
	c.id, c.branch, c.appID = newGUID(), newGUID(), appID
	c.resp = make(chan *SLPMessage, 1)
	c.data = make(chan []byte, 1)
	c.fail = make(chan error, 1)
	c.bye = make(chan struct{})
	m.mu.Lock()
	l := m.linkLocked(peer)
	for c.sessionID == 0 || l.callBySession(c.sessionID) != nil {
		c.sessionID = randUint32()%0x7fffff00 + 16
	}
	l.calls[c.id] = c
	m.mu.Unlock()

	body := "EUF-GUID: " + eufGUID + "\r\nSessionID: " + strconv.FormatUint(uint64(c.sessionID), 10) +
		"\r\nAppID: " + strconv.FormatUint(uint64(appID), 10) + "\r\n"
	if context != nil {
		body += "Context: " + base64.StdEncoding.EncodeToString(context) + "\r\n"
	}
	body += "\r\n"
	invite := newSLPRequest("INVITE", m.cfg.Self, peer, c.branch, c.id, 0, SLPSessionReq, body)
	if err := m.sendSLPCtx(ctx, peer, invite, false); err != nil {
		return fmt.Errorf("send INVITE: %w", err)
	}
	select {
	case resp := <-c.resp:
		if resp.StatusCode != 200 {
			return fmt.Errorf("%w (%d %s)", ErrDeclined, resp.StatusCode, truncate(resp.Reason, 40))
		}
		return nil
	case err := <-c.fail:
		return err
	case <-ctx.Done():
		return m.ctxErr(ctx, "no answer to the INVITE")
	}
}

// waitData waits for the data message of a receiving call.
func (m *Manager) waitData(ctx context.Context, c *call) ([]byte, error) {
	select {
	case data := <-c.data:
		return data, nil
	case err := <-c.fail:
		return nil, err
	case <-ctx.Done():
		return nil, m.ctxErr(ctx, "the data did not arrive")
	}
}

// waitStream waits for a streamed data message to be complete, as long
// as chunks keep coming: stall bounds the wait for the next one.
func (m *Manager) waitStream(c *call, stall time.Duration) error {
	if stall <= 0 {
		stall = m.cfg.CallTimeout
	}
	t := time.NewTimer(stall)
	defer t.Stop()
	for {
		select {
		case <-c.data:
			return nil
		case err := <-c.fail:
			return err
		case <-c.progress:
			t.Reset(stall)
		case <-t.C:
			return fmt.Errorf("%w: no data for %s", ErrTimeout, stall)
		case <-m.ctx.Done():
			return ErrStopped
		}
	}
}

// endStream detaches a streamed call from its sink: chunks still coming
// are dropped, never written to a sink its owner is closing.
func (m *Manager) endStream(peer string, c *call) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.receiving, c.sink = false, nil
	l := m.linkLocked(peer)
	for id, a := range l.inbound {
		if a.call == c {
			delete(l.inbound, id)
		}
	}
}

// sendBye closes a call with BYE, in the background.
func (m *Manager) sendBye(peer string, c *call) {
	if c.v2src != "" {
		m.sendByeV2(peer, c)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.AckTimeout)
		defer cancel()
		bye := newSLPRequest("BYE", m.cfg.Self, peer, newGUID(), c.id, 0, SLPSessionClose, "\r\n")
		if err := m.sendSLPCtx(ctx, peer, bye, false); err != nil {
			m.log.Debug().Err(err).Str("peer", peer).Msg("Could not send MSNSLP BYE")
		}
	}()
}

// callContext bounds a call by the call timeout and the manager's life.
func (m *Manager) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.CallTimeout)
	stop := context.AfterFunc(m.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Request invites peer to a session and returns the data the peer sends on
// it (after checking nothing: the application verifies it). The session is
// closed with BYE.
func (m *Manager) Request(ctx context.Context, peer string, req Request) ([]byte, error) {
	peer = strings.ToLower(peer)
	ctx, cancel := m.callContext(ctx)
	defer cancel()
	c := &call{receiving: true, maxSize: m.limit(req.MaxSize), dataPrep: req.DataPrep}
	defer m.removeCall(peer, c)
	if err := m.invite(ctx, peer, req.EUFGUID, req.AppID, req.Context, c); err != nil {
		return nil, err
	}
	data, err := m.waitData(ctx, c)
	if err != nil {
		if !errors.Is(err, ErrClosed) && !errors.Is(err, ErrStopped) {
			m.giveUp(peer, c) // the sender stops sending what we no longer take
		}
		return nil, err
	}
	m.sendBye(peer, c)
	return data, nil
}

// Offer invites peer to a session and, once accepted, sends it the data.
// It returns when the peer acknowledged the data; the peer closes the
// session (or we do, when it does not within the ack timeout).
//
// The answer is awaited for the call timeout at most; the data, once
// accepted, is sent for as long as ctx allows and the peer does not close
// the session (a cancelled transfer fails with ErrClosed).
func (m *Manager) Offer(ctx context.Context, peer string, o Offer) error {
	peer = strings.ToLower(peer)
	c := &call{}
	defer m.removeCall(peer, c)
	ictx, icancel := m.callContext(ctx)
	err := m.invite(ictx, peer, o.EUFGUID, o.AppID, o.Context, c)
	icancel()
	if err != nil {
		if !errors.Is(err, ErrDeclined) && !errors.Is(err, ErrStopped) {
			// Unanswered or given up: withdraw the offer, so that the
			// contact's client stops showing it (accepting it later
			// would start a transfer nobody sends).
			m.sendBye(peer, c)
		}
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(m.ctx, func() { cancel(ErrStopped) })
	defer stop()
	go func() {
		select {
		case <-c.bye:
			cancel(ErrClosed)
		case err := <-c.fail:
			cancel(err)
		case <-ctx.Done():
		}
	}()
	if err := m.offerData(ctx, peer, c, o); err != nil {
		select {
		case <-c.bye: // the peer ended it
		default:
			m.sendBye(peer, c) // tell the peer we gave up
		}
		if cause := context.Cause(ctx); cause != nil && ctx.Err() != nil {
			return fmt.Errorf("%w (%w)", cause, err)
		}
		return err
	}
	t := time.NewTimer(m.cfg.AckTimeout)
	defer t.Stop()
	select {
	case <-c.bye:
	case <-t.C:
		m.sendBye(peer, c)
	case <-ctx.Done():
	}
	return nil
}

// offerData sends the data of an accepted offer.
func (m *Manager) offerData(ctx context.Context, peer string, c *call, o Offer) error {
	if o.DataPrep {
		if err := m.sendMessage(ctx, peer, c.sessionID, FlagNormal, o.AppID, make([]byte, 4), true); err != nil {
			return fmt.Errorf("data preparation: %w", err)
		}
	}
	r, size := io.Reader(bytes.NewReader(o.Data)), int64(len(o.Data))
	if o.Reader != nil {
		r, size = o.Reader, o.Size
	}
	if err := m.sendStream(ctx, peer, c.sessionID, o.DataFlags, o.AppID, r, uint64(size), true); err != nil {
		if errors.Is(err, ErrTimeout) {
			return fmt.Errorf("send data: %w: %w", ErrStalled, err)
		}
		return fmt.Errorf("send data: %w", err)
	}
	return nil
}

func (m *Manager) ctxErr(ctx context.Context, what string) error {
	if m.ctx.Err() != nil {
		return ErrStopped
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %s", ErrTimeout, what)
	}
	return ctx.Err()
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}

// newGUID returns a random GUID in braces, upper case as clients send it.
func newGUID() string { return strings.ToUpper(msnp.NewGUID()) }
