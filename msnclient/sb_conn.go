package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// errSBClosed is returned for requests still waiting when a switchboard
// connection closed (a message that got it may or may not have been
// relayed), and for sends refused before writing because the switchboard
// is closing.
var errSBClosed = errors.New("msn: switchboard closed")

// Defaults of switchboard timings.
const (
	defaultSBIdleTimeout = 5 * time.Minute
	sbHandshakeTimeout   = 30 * time.Second // well inside the server's 60 s
	sbJoinTimeout        = 60 * time.Second
	closeWriteTimeout    = 2 * time.Second // bounds the OUT sent when leaving
	// maxSBPayload bounds the payload of a switchboard line. The server
	// refuses messages over 1664 bytes from clients (Escargot disconnects
	// them) and relays nothing larger; the margin allows for the sender's
	// name and an endpoint id in the relayed line's header. A server
	// announcing more is broken or hostile: the connection is dropped.
	maxSBPayload = 4 << 10
)

// sbConn is one switchboard connection (one session).
type sbConn struct {
	s    *switchboards
	conn net.Conn
	w    *msnp.Writer
	r    *msnp.Reader
	log  zerolog.Logger
	self string // our lower-cased email

	sessionID string

	eng *msnp.Engine // transaction ids and replies

	mu           sync.Mutex
	participants map[string]map[string]bool // email -> endpoint ids ("" = plain line)
	names        map[string]string
	invited      map[string]bool  // CALed, not yet joined
	absent       map[string]error // members the opener could not invite (CAL refused), with why
	changed      chan struct{}    // closed and replaced on every participant change
	lastActive   time.Time
	ready        bool // handshake done; events are emitted
	closing      bool
	closeBy      time.Time // deadline of the OUT written when closing
	retiring     bool      // no new sends; closes once late acknowledgements are settled
	late         int       // messages whose acknowledgement is still awaited after their sender gave up
	idleTimer    *time.Timer

	lastParts []string // last non-empty participant set, for ConversationClosed

	chunks *chunkAssembler // reassembles chunked messages
	done   chan struct{}

	emoticons emoticonDefs // custom emoticons defined for the next text (emoticons.go)
}

func newSBConn(s *switchboards, conn net.Conn) *sbConn {
	r := msnp.NewReader(conn, msnp.FromServer)
	r.MaxPayload = maxSBPayload
	sb := &sbConn{
		s:            s,
		conn:         conn,
		r:            r,
		log:          s.log.With().Str("sb", conn.RemoteAddr().String()).Logger(),
		self:         strings.ToLower(s.c.Email()),
		participants: make(map[string]map[string]bool),
		names:        make(map[string]string),
		invited:      make(map[string]bool),
		absent:       make(map[string]error),
		changed:      make(chan struct{}),
		lastActive:   time.Now(),
		done:         make(chan struct{}),
	}
	// Every write is bounded, so that a server that stops reading cannot
	// block a sender past the request timeout; once the switchboard is
	// closing (only OUT is left to send) by the close deadline.
	timeout := s.requestTimeout()
	sb.w = msnp.NewWriter(msnp.DeadlineWriter{Conn: conn, Deadline: func() time.Time {
		sb.mu.Lock()
		defer sb.mu.Unlock()
		if sb.closing && !sb.closeBy.IsZero() {
			return sb.closeBy
		}
		return time.Now().Add(timeout)
	}})
	// Transaction id 1 is the handshake's.
	sb.eng = msnp.NewEngine(sb.w, 2)
	sb.chunks = newChunkAssembler(s.chunkExpiry, sb.reportIncomplete)
	return sb
}

// dialSB connects to a switchboard address from XFR or RNG.
func (s *switchboards) dialSB(ctx context.Context, addr string) (*sbConn, error) {
	d := net.Dialer{Timeout: s.dialTimeout()}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("connect to switchboard %s: %w", addr, err)
	}
	return newSBConn(s, conn), nil
}

// endpointID returns what we send as our identity in USR/ANS: the email, and
// in MSNP16+ our machine GUID after a semicolon.
func (sb *sbConn) endpointID() string {
	email := sb.s.c.cfg.Email // exactly as at login: servers compare it case-sensitively
	if d := sb.s.c.dialect(); d == nil || !d.sbMPOP {
		return email
	}
	guid := sb.s.c.MachineGUID()
	if guid == "" {
		return email
	}
	if !strings.HasPrefix(guid, "{") {
		guid = "{" + guid + "}"
	}
	return email + ";" + guid
}

// handshakeUSR authenticates a switchboard we asked for (XFR SB).
func (sb *sbConn) handshakeUSR(ctx context.Context, cookie string) error {
	return sb.handshake(ctx, msnp.New("USR", "1", sb.endpointID(), cookie), "USR")
}

// handshakeANS joins a session we were invited to (RNG) and reads the roster.
func (sb *sbConn) handshakeANS(ctx context.Context, cookie, sessionID string) error {
	sb.mu.Lock()
	sb.sessionID = sessionID
	sb.mu.Unlock()
	return sb.handshake(ctx, msnp.New("ANS", "1", sb.endpointID(), cookie, sessionID), "ANS")
}

// handshake sends the authentication command and reads until its OK,
// synchronously, before the read loop starts.
func (sb *sbConn) handshake(ctx context.Context, cmd *msnp.Command, name string) error {
	deadline := time.Now().Add(sbHandshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = sb.conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = sb.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := sb.w.WriteCommand(cmd); err != nil {
		return fmt.Errorf("send %s: %w", name, err)
	}
	for {
		reply, err := sb.r.ReadCommand()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("switchboard %s: %w", name, ErrTimeout)
			}
			return fmt.Errorf("switchboard %s: %w", name, err)
		}
		if reply.IsError() {
			err := reply.Err()
			var se *msnp.ServerError
			if errors.As(err, &se) && se.Code == 911 {
				return fmt.Errorf("switchboard %s refused the cookie: %w", name, err)
			}
			return fmt.Errorf("switchboard %s: %w", name, err)
		}
		switch {
		case reply.Name == name && reply.Arg(1) == "OK":
			_ = sb.conn.SetDeadline(time.Time{})
			sb.mu.Lock()
			sb.ready = true
			sb.mu.Unlock()
			return nil
		case reply.Name == "IRO":
			// IRO trid index total email name [caps]
			sb.addParticipant(reply.Arg(3), msnp.DecodeParam(reply.Arg(4)), false)
		case reply.Name == "JOI":
			sb.addParticipant(reply.Arg(0), msnp.DecodeParam(reply.Arg(1)), false)
		}
	}
}
