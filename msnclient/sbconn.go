package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// errSBClosed is returned for requests still waiting when a switchboard
// connection closed; a message that got it may or may not have been relayed.
var errSBClosed = errors.New("msn: switchboard closed")

// Defaults of switchboard timings.
const (
	defaultSBIdleTimeout = 5 * time.Minute
	sbHandshakeTimeout   = 30 * time.Second // well inside the server's 60 s
	sbJoinTimeout        = 60 * time.Second
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

	mu           sync.Mutex
	trid         int
	pending      map[int]chan *msnp.Command
	participants map[string]map[string]bool // email -> endpoint ids ("" = plain line)
	names        map[string]string
	invited      map[string]bool // CALed, not yet joined
	changed      chan struct{}   // closed and replaced on every participant change
	lastActive   time.Time
	ready        bool // handshake done; events are emitted
	closing      bool
	idleTimer    *time.Timer

	done     chan struct{}
	closeErr error
}

func newSBConn(s *switchboards, conn net.Conn) *sbConn {
	return &sbConn{
		s:            s,
		conn:         conn,
		w:            msnp.NewWriter(conn),
		r:            msnp.NewReader(conn, msnp.FromServer),
		log:          s.log.With().Str("sb", conn.RemoteAddr().String()).Logger(),
		self:         strings.ToLower(s.c.Email()),
		pending:      make(map[int]chan *msnp.Command),
		participants: make(map[string]map[string]bool),
		names:        make(map[string]string),
		invited:      make(map[string]bool),
		changed:      make(chan struct{}),
		lastActive:   time.Now(),
		done:         make(chan struct{}),
	}
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

// nextTrID reserves a transaction id and a channel for its replies.
func (sb *sbConn) nextTrID() (int, chan *msnp.Command) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.trid++
	ch := make(chan *msnp.Command, 1)
	sb.pending[sb.trid] = ch
	return sb.trid, ch
}

func (sb *sbConn) forget(trid int) {
	sb.mu.Lock()
	delete(sb.pending, trid)
	sb.mu.Unlock()
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
	sb.mu.Lock()
	sb.trid = 1
	sb.mu.Unlock()
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

// splitEndpoint splits "email;{guid}" into the lower-cased email and the
// endpoint id ("" for a plain line).
func splitEndpoint(s string) (email, endpoint string) {
	email, endpoint, _ = strings.Cut(s, ";")
	return strings.ToLower(email), endpoint
}

// addParticipant records a JOI/IRO line and reports whether the person is
// new to the session. Our own endpoints are ignored.
func (sb *sbConn) addParticipant(id, name string, emitEvent bool) {
	email, endpoint := splitEndpoint(id)
	if email == "" || email == sb.self {
		return
	}
	sb.mu.Lock()
	eps, known := sb.participants[email]
	if !known {
		eps = make(map[string]bool)
		sb.participants[email] = eps
	}
	eps[endpoint] = true
	if name != "" {
		sb.names[email] = name
	}
	delete(sb.invited, email)
	sb.notifyLocked()
	parts := sb.participantsLocked()
	sb.mu.Unlock()
	if !known && emitEvent {
		sb.s.c.emit(&ParticipantJoined{ConversationEvent: ConversationEvent{Participants: parts}, Email: email, FriendlyName: name})
	}
}

// removeParticipant records a BYE line. A BYE with an endpoint id removes
// that endpoint; a plain BYE removes the person. It reports whether nobody
// else is left.
func (sb *sbConn) removeParticipant(id string) (empty bool) {
	email, endpoint := splitEndpoint(id)
	if email == "" || email == sb.self {
		return false
	}
	sb.mu.Lock()
	eps, known := sb.participants[email]
	gone := false
	if known {
		if endpoint != "" {
			delete(eps, endpoint)
		} else {
			delete(sb.participants, email)
			gone = true
		}
	}
	sb.notifyLocked()
	parts := sb.participantsLocked()
	empty = len(sb.participants) == 0 && len(sb.invited) == 0
	sb.mu.Unlock()
	if gone {
		sb.s.c.emit(&ParticipantLeft{ConversationEvent: ConversationEvent{Participants: parts}, Email: email})
	}
	return empty
}

func (sb *sbConn) notifyLocked() {
	close(sb.changed)
	sb.changed = make(chan struct{})
}

// participantsLocked returns the joined participants, sorted.
func (sb *sbConn) participantsLocked() []string {
	out := make([]string, 0, len(sb.participants))
	for email := range sb.participants {
		out = append(out, email)
	}
	sort.Strings(out)
	return out
}

// Participants returns the joined participants, sorted.
func (sb *sbConn) Participants() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.participantsLocked()
}

// target returns joined and invited participants, sorted: the set this
// switchboard serves.
func (sb *sbConn) target() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := sb.participantsLocked()
	for email := range sb.invited {
		if sb.participants[email] == nil {
			out = append(out, email)
		}
	}
	sort.Strings(out)
	return out
}

func (sb *sbConn) isClosed() bool {
	select {
	case <-sb.done:
		return true
	default:
		return false
	}
}

// touch records activity for the idle timeout.
func (sb *sbConn) touch() {
	sb.mu.Lock()
	sb.lastActive = time.Now()
	sb.mu.Unlock()
}

// start launches the read loop and the idle timer after the handshake.
func (sb *sbConn) start() {
	timeout := sb.s.idleTimeout()
	sb.mu.Lock()
	sb.idleTimer = time.AfterFunc(timeout, sb.checkIdle)
	sb.mu.Unlock()
	go sb.readLoop()
}

func (sb *sbConn) checkIdle() {
	timeout := sb.s.idleTimeout()
	sb.mu.Lock()
	left := timeout - time.Since(sb.lastActive)
	if left > 0 {
		sb.idleTimer.Reset(left)
		sb.mu.Unlock()
		return
	}
	sb.mu.Unlock()
	sb.log.Debug().Msg("closing idle switchboard")
	sb.close()
}

// close leaves the session (OUT) and closes the connection. The read loop
// finishes the cleanup.
func (sb *sbConn) close() {
	sb.mu.Lock()
	if sb.closing {
		sb.mu.Unlock()
		return
	}
	sb.closing = true
	sb.mu.Unlock()
	_ = sb.conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
	_ = sb.w.WriteCommand(msnp.New("OUT"))
	_ = sb.conn.Close()
}

// readLoop reads until the connection ends, then fails everything pending.
func (sb *sbConn) readLoop() {
	var err error
	for {
		var cmd *msnp.Command
		cmd, err = sb.r.ReadCommand()
		if err != nil {
			var se *msnp.SyntaxError
			if errors.As(err, &se) {
				sb.log.Debug().Err(err).Msg("ignoring malformed switchboard line")
				continue
			}
			break
		}
		if !sb.handle(cmd) {
			break
		}
	}
	sb.finish(err)
}

// handle processes one command; false ends the connection.
func (sb *sbConn) handle(cmd *msnp.Command) bool {
	switch cmd.Name {
	case "MSG":
		sb.touch()
		sb.handleMessage(cmd)
	case "JOI":
		sb.addParticipant(cmd.Arg(0), msnp.DecodeParam(cmd.Arg(1)), true)
	case "IRO":
		sb.addParticipant(cmd.Arg(3), msnp.DecodeParam(cmd.Arg(4)), true)
	case "BYE":
		if sb.removeParticipant(cmd.Arg(0)) {
			sb.log.Debug().Msg("last participant left, closing switchboard")
			return false
		}
	case "OUT":
		return false
	default:
		if trid, ok := cmd.TrID(); ok {
			sb.mu.Lock()
			ch := sb.pending[trid]
			delete(sb.pending, trid)
			sb.mu.Unlock()
			if ch != nil {
				ch <- cmd
				return true
			}
		}
		sb.log.Debug().Str("cmd", cmd.Redacted()).Msg("unexpected switchboard command")
	}
	return true
}

// finish runs once when the read loop ends.
func (sb *sbConn) finish(err error) {
	sb.mu.Lock()
	wasClosing := sb.closing
	sb.closing = true
	if sb.idleTimer != nil {
		sb.idleTimer.Stop()
	}
	if !wasClosing {
		sb.closeErr = err
	}
	sb.pending = map[int]chan *msnp.Command{}
	parts := sb.participantsLocked()
	sb.mu.Unlock()
	if !wasClosing {
		_ = sb.w.WriteCommand(msnp.New("OUT"))
	}
	_ = sb.conn.Close()
	close(sb.done)
	sb.s.remove(sb)
	sb.s.c.emit(&ConversationClosed{ConversationEvent: ConversationEvent{Participants: parts}})
}

// request sends cmd with a fresh transaction id (set as Args[0]) and waits
// for the reply with that id.
func (sb *sbConn) request(ctx context.Context, cmd *msnp.Command) (*msnp.Command, error) {
	trid, ch := sb.nextTrID()
	cmd.Args = append([]string{fmt.Sprint(trid)}, cmd.Args...)
	if err := sb.w.WriteCommand(cmd); err != nil {
		sb.forget(trid)
		if sb.isClosed() {
			return nil, errSBClosed
		}
		return nil, fmt.Errorf("send %s: %w", cmd.Name, err)
	}
	select {
	case reply := <-ch:
		return reply, nil
	case <-sb.done:
		select {
		case reply := <-ch: // answered just before the close
			return reply, nil
		default:
			return nil, errSBClosed
		}
	case <-ctx.Done():
		sb.forget(trid)
		return nil, ctx.Err()
	}
}

// call invites email into the session (CAL) and waits for RINGING.
func (sb *sbConn) call(ctx context.Context, email string) error {
	email = strings.ToLower(email)
	sb.mu.Lock()
	_, joined := sb.participants[email]
	if !joined {
		sb.invited[email] = true
	}
	sb.mu.Unlock()
	if joined {
		return nil
	}
	reply, err := sb.request(ctx, msnp.New("CAL", email))
	if err == nil && reply.IsError() {
		err = reply.Err()
		var se *msnp.ServerError
		if errors.As(err, &se) && se.Code == 215 { // already in the session
			return nil
		}
		if errors.As(err, &se) && (se.Code == 217 || se.Code == 208) {
			err = fmt.Errorf("%w: %w", ErrContactOffline, err)
		}
	}
	if err != nil {
		sb.mu.Lock()
		delete(sb.invited, email)
		sb.mu.Unlock()
		return fmt.Errorf("invite %s: %w", email, err)
	}
	if reply.Arg(1) == "RINGING" {
		sb.mu.Lock()
		if sb.sessionID == "" {
			sb.sessionID = reply.Arg(2)
		}
		sb.mu.Unlock()
	}
	return nil
}

// waitJoined waits until every email has joined the session.
func (sb *sbConn) waitJoined(ctx context.Context, emails []string) error {
	for {
		sb.mu.Lock()
		missing := ""
		for _, e := range emails {
			if sb.participants[e] == nil {
				missing = e
				break
			}
		}
		changed := sb.changed
		sb.mu.Unlock()
		if missing == "" {
			return nil
		}
		select {
		case <-changed:
		case <-sb.done:
			return fmt.Errorf("wait for %s to join: %w", missing, errSBClosed)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to join: %w", missing, ErrTimeout)
		}
	}
}

// sendMessage sends one MSG payload. With mode "A" or "D" it waits for the
// ACK; other modes return once written.
func (sb *sbConn) sendMessage(ctx context.Context, mode string, payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("message payload of %d bytes is over the %d-byte limit", len(payload), maxPayload)
	}
	sb.touch()
	if mode != "A" && mode != "D" {
		trid, _ := sb.nextTrID()
		sb.forget(trid)
		if err := sb.w.WriteCommand(msnp.NewPayload("MSG", payload, fmt.Sprint(trid), mode)); err != nil {
			if sb.isClosed() {
				return errSBClosed
			}
			return fmt.Errorf("send message: %w", err)
		}
		return nil
	}
	reply, err := sb.request(ctx, msnp.NewPayload("MSG", payload, mode))
	if err != nil {
		return err
	}
	switch {
	case reply.Name == "ACK":
		return nil
	case reply.Name == "NAK":
		return ErrNotDelivered
	case reply.IsError():
		return fmt.Errorf("%w: %w", ErrNotDelivered, reply.Err())
	}
	return fmt.Errorf("%w: unexpected reply %s", ErrNotDelivered, reply.Name)
}
