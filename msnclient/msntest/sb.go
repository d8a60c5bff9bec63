package msntest

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Switchboard limits, as Escargot.
const (
	sbAuthTimeout  = 60 * time.Second // unauthenticated connections are closed
	sbMaxPayload   = 1664             // larger MSG payloads => disconnect
	sbWriteTimeout = 10 * time.Second
	sbDefaultIdle  = 5 * time.Minute
)

// SwitchboardAckMode selects how the fake switchboard answers MSG A/D.
type SwitchboardAckMode int

// Acknowledgement modes for SetSwitchboardAck.
const (
	AckNormal SwitchboardAckMode = iota // ACK immediately, as Escargot
	AckNever                            // relay but never answer
	AckNAK                              // do not relay; answer NAK
	AckLater                            // relay; answer when ReleaseSwitchboardAcks is called
)

// sbState is the switchboard server's state (Server.sb), guarded by its own
// mutex. Lock order: sbState.mu before Server.mu (the NS never takes it).
type sbState struct {
	mu        sync.Mutex
	sessions  map[string]*sbSession
	ackMode   SwitchboardAckMode
	idle      time.Duration
	dropOnMsg map[string]bool // account key => drop its SB connections at its next MSG
	msgCount  int
	changed   chan struct{} // closed and replaced when sessions change
	heldAcks  []heldAck     // AckLater: acknowledgements not yet sent
}

// heldAck is an acknowledgement held back by AckLater.
type heldAck struct {
	c    *sbConn
	trid string
}

// sbSession is one switchboard session (a conversation).
type sbSession struct {
	id        string
	conns     []*sbConn // in join order
	idleTimer *time.Timer
}

// sbConn is one authenticated switchboard connection.
type sbConn struct {
	s       *Server
	conn    net.Conn
	w       *msnp.Writer
	log     zerolog.Logger
	ident   sbIdentity
	id      string // "email" or "email;{guid}" as the client sent it
	session *sbSession
}

func (st *sbState) init() {
	if st.sessions == nil {
		st.sessions = make(map[string]*sbSession)
		st.dropOnMsg = make(map[string]bool)
		st.changed = make(chan struct{})
	}
}

// serveSB runs one switchboard connection until it ends.
func (s *Server) serveSB(conn net.Conn) {
	log := s.log.With().Str("sb", conn.RemoteAddr().String()).Logger()
	r := msnp.NewReader(conn, msnp.FromClient)
	w := msnp.NewWriter(conn)
	_ = conn.SetReadDeadline(time.Now().Add(sbAuthTimeout))
	var c *sbConn
	defer func() {
		if c != nil {
			s.sbLeave(c)
		}
	}()
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			var syn *msnp.SyntaxError
			if errors.As(err, &syn) {
				log.Debug().Err(err).Msg("ignoring malformed line")
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				log.Debug().Err(err).Msg("switchboard read ended")
			}
			return
		}
		log.Debug().Str("cmd", cmd.Redacted()).Msg("sb recv")
		if c == nil {
			var ok bool
			c, ok = s.sbAuth(conn, w, log, cmd)
			if !ok {
				return
			}
			if c != nil {
				_ = conn.SetReadDeadline(time.Time{})
				defer s.registerSBConn(c.email(), conn)()
			}
			continue
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// sbAuth handles a command before authentication. It returns the
// connection once USR or ANS succeeded, and false to close.
func (s *Server) sbAuth(conn net.Conn, w *msnp.Writer, log zerolog.Logger, cmd *msnp.Command) (*sbConn, bool) {
	switch cmd.Name {
	case "USR":
		if len(cmd.Args) != 3 {
			return nil, false
		}
	case "ANS":
		if len(cmd.Args) != 4 {
			return nil, false
		}
	case "OUT":
		return nil, false
	default:
		return nil, true // ignored, as Escargot
	}
	trid, id, cookie := cmd.Args[0], cmd.Args[1], cmd.Args[2]
	fail := func() (*sbConn, bool) {
		_ = w.WriteCommand(msnp.New("911", trid))
		return nil, false
	}
	ident, sessionID, ok := s.redeemSBCookie(cookie)
	if !ok || !identMatches(ident, id) {
		return fail()
	}
	c := &sbConn{s: s, conn: conn, w: w, log: log, ident: ident, id: id}
	if cmd.Name == "USR" {
		if sessionID != "" {
			return fail()
		}
		s.sbCreate(c)
		c.send("USR", trid, "OK", id, msnp.EncodeParam(ident.FriendlyName))
		return c, true
	}
	if sessionID == "" || cmd.Args[3] != sessionID {
		return nil, false
	}
	if !s.sbJoin(c, sessionID, trid) {
		return nil, false
	}
	return c, true
}

// identMatches checks the USR/ANS identity against the cookie's: the email
// case-sensitively (Escargot quirk 9) and, in MSNP16+, the endpoint GUID.
func identMatches(ident sbIdentity, id string) bool {
	email, guid, hasGUID := strings.Cut(id, ";")
	if email != ident.Email {
		return false
	}
	if hasGUID && ident.Dialect >= 16 {
		return strings.ToLower(strings.Trim(guid, "{}")) == ident.MachineGUID
	}
	return true
}

// send writes one line, with a deadline so that a stuck client cannot block
// the server.
func (c *sbConn) send(name string, args ...string) {
	c.write(msnp.New(name, args...))
}

func (c *sbConn) write(cmd *msnp.Command) {
	_ = c.conn.SetWriteDeadline(time.Now().Add(sbWriteTimeout))
	if err := c.w.WriteCommand(cmd); err != nil {
		c.log.Debug().Err(err).Msg("sb write failed")
		_ = c.conn.Close()
	}
}

func (c *sbConn) email() string { return c.ident.Email }

func (c *sbConn) guid() string {
	if c.ident.Dialect < 16 {
		return ""
	}
	return c.ident.MachineGUID
}

// caps returns the capabilities field for a JOI/IRO line sent to a client
// of dialect d, or "" when the dialect has none.
func (c *sbConn) caps(d int) string {
	switch {
	case d < 12:
		return ""
	case d < 16:
		caps, _, _ := strings.Cut(c.ident.Caps, ":")
		return caps
	}
	return c.ident.Caps
}

// lineArgs returns "email name [caps]" for a participant line, with the
// endpoint GUID when withGUID.
func (c *sbConn) lineArgs(d int, withGUID bool) []string {
	id := c.email()
	if withGUID {
		id += ";{" + c.guid() + "}"
	}
	args := []string{id, msnp.EncodeParam(c.currentName())}
	if caps := c.caps(d); caps != "" {
		args = append(args, caps)
	}
	return args
}

func (c *sbConn) currentName() string {
	if ident, ok := c.s.sbIdentity(c.ident.Email, c.ident.MachineGUID); ok {
		return ident.FriendlyName
	}
	return c.ident.FriendlyName
}
