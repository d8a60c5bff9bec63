package msntest

import (
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// nsSession is one notification-server connection. Fields below the mutex
// comment are guarded by Server.mu: command handlers run with it held, and
// other goroutines (presence fan-out, SB hooks) read them under it.
type nsSession struct {
	s        *Server
	conn     net.Conn
	w        *msnp.Writer
	log      zerolog.Logger
	dispatch bool // Microsoft mode dispatch server: redirect at USR

	outMu   sync.Mutex
	outCond *sync.Cond
	outQ    [][]byte
	closing bool

	// guarded by Server.mu
	dialect     int
	authEmail   string // email given in USR I
	authMethod  string
	nonce       string   // SSO nonce
	acct        *account // nil until logged in
	token       string   // login token; SOAP auth looks it up
	machineGUID string   // lower case, no braces; "" when none
	chgDone     bool     // first CHG seen: presence flows, XFR SB allowed
	caps        string
	epName      string
	idle        string
	clientType  string
	epState     string
	challenge   string // Microsoft mode: outstanding CHL
	synDone     bool
	gone        bool
	loginSeq    uint64        // login order, for stable endpoint lists
	circ        circleSession // MSNP18 circle state (circles*.go)
}

func (s *Server) serveNS(conn net.Conn, dispatch bool) {
	sess := &nsSession{s: s, conn: conn, w: msnp.NewWriter(conn), dispatch: dispatch}
	sess.outCond = sync.NewCond(&sess.outMu)
	sess.log = s.log.With().Str("ns", conn.RemoteAddr().String()).Logger()
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		defer close(done)
		sess.writeLoop()
	}()
	sess.readLoop()

	s.mu.Lock()
	s.endSession(sess)
	s.mu.Unlock()
	sess.closeAfterFlush()
	<-done
}

func (sess *nsSession) readLoop() {
	r := msnp.NewReader(sess.conn, msnp.FromClient)
	for {
		cmd, err := r.ReadCommand()
		if err != nil {
			var syn *msnp.SyntaxError
			if errors.As(err, &syn) {
				sess.log.Debug().Err(err).Msg("ignoring malformed line")
				continue
			}
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				sess.log.Debug().Err(err).Msg("read failed")
			}
			return
		}
		sess.log.Debug().Str("cmd", cmd.Redacted()).Msg("recv")
		sess.s.mu.Lock()
		stop := sess.gone
		if !stop {
			stop = sess.handle(cmd)
		}
		sess.s.mu.Unlock()
		if stop {
			return
		}
	}
}

// handle runs one command with Server.mu held. It returns true when the
// connection must be closed (after flushing what was queued).
func (sess *nsSession) handle(cmd *msnp.Command) (stop bool) {
	defer func() {
		if r := recover(); r != nil {
			sess.log.Error().Interface("panic", r).Str("cmd", cmd.Name).Msg("handler panicked; ignoring command")
			stop = false
		}
	}()
	if code, ok := sess.s.takeFailure(cmd.Name); ok {
		sess.sendError(code, cmd.Arg(0))
		return false
	}
	h, ok := nsHandlers[cmd.Name]
	if !ok {
		sess.log.Debug().Str("cmd", cmd.Name).Msg("ignoring unknown command")
		return false
	}
	if sess.acct == nil && !preLogin[cmd.Name] {
		sess.log.Debug().Str("cmd", cmd.Name).Msg("ignoring command before login")
		return false
	}
	return h(sess, cmd)
}

type nsHandler func(sess *nsSession, cmd *msnp.Command) (stop bool)

var nsHandlers map[string]nsHandler

var preLogin = map[string]bool{"VER": true, "CVR": true, "USR": true, "PNG": true, "OUT": true}

func init() {
	nsHandlers = map[string]nsHandler{
		"VER": (*nsSession).cmdVER,
		"CVR": (*nsSession).cmdCVR,
		"USR": (*nsSession).cmdUSR,
		"PNG": (*nsSession).cmdPNG,
		"OUT": func(*nsSession, *msnp.Command) bool { return true },
		"QRY": (*nsSession).cmdQRY,
		"PUT": (*nsSession).cmdPUT, // circles_ns.go
		"SDG": (*nsSession).cmdSDG,
		"CHG": (*nsSession).cmdCHG,
		"PRP": (*nsSession).cmdPRP,
		"REA": (*nsSession).cmdREA,
		"UUX": (*nsSession).cmdUUX,
		"XFR": (*nsSession).cmdXFR,
		"BLP": (*nsSession).cmdBLP,
		"GTC": (*nsSession).cmdGTC,
		"SYN": (*nsSession).cmdSYN,
		"ADD": (*nsSession).cmdADD,
		"ADC": (*nsSession).cmdADC,
		"REM": (*nsSession).cmdREM,
		"ADG": (*nsSession).cmdADG,
		"RMG": (*nsSession).cmdRMG,
		"REG": (*nsSession).cmdREG,
		"SBP": (*nsSession).cmdSBP,
		"ADL": (*nsSession).cmdADL,
		"RML": (*nsSession).cmdRML,
		"FQY": (*nsSession).cmdFQY,
		"GCF": (*nsSession).cmdGCF,
		"UUM": (*nsSession).cmdUUM,
		"URL": func(sess *nsSession, cmd *msnp.Command) bool {
			sess.send("URL", cmd.Arg(0), "/unused1", "/unused2", "1")
			return false
		},
		"SND": func(sess *nsSession, cmd *msnp.Command) bool {
			sess.send("SND", cmd.Arg(0), "OK")
			return false
		},
	}
}

// send queues a command line. It never blocks.
func (sess *nsSession) send(name string, args ...string) {
	sess.sendCmd(msnp.New(name, args...))
}

// sendPayload queues a payload command; the length is appended.
func (sess *nsSession) sendPayload(name string, payload []byte, args ...string) {
	sess.sendCmd(msnp.NewPayload(name, payload, args...))
}

func (sess *nsSession) sendError(code int, trid string) {
	if trid == "" {
		trid = "0"
	}
	sess.send(strconv.Itoa(code), trid)
}

func (sess *nsSession) sendCmd(cmd *msnp.Command) {
	b, err := cmd.Marshal()
	if err != nil {
		sess.log.Error().Err(err).Str("cmd", cmd.Name).Msg("not sending invalid command")
		return
	}
	sess.log.Debug().Str("cmd", cmd.Redacted()).Msg("send")
	sess.enqueue(b)
}

// sendRaw queues a preformatted line (used for lines with an empty trailing
// field, which msnp.Command refuses to build).
func (sess *nsSession) sendRaw(line string) {
	sess.log.Debug().Str("line", line).Msg("send")
	sess.enqueue([]byte(line + "\r\n"))
}

func (sess *nsSession) enqueue(b []byte) {
	sess.outMu.Lock()
	defer sess.outMu.Unlock()
	if sess.closing {
		return
	}
	sess.outQ = append(sess.outQ, b)
	sess.outCond.Signal()
}

// closeAfterFlush closes the connection once everything queued is written.
func (sess *nsSession) closeAfterFlush() {
	sess.outMu.Lock()
	sess.closing = true
	sess.outCond.Signal()
	sess.outMu.Unlock()
}

// sendOUT sends OUT reason and closes the connection. Server.mu must be held.
func (sess *nsSession) sendOUT(reason string) {
	sess.send("OUT", reason)
	sess.s.endSession(sess)
	sess.closeAfterFlush()
}

func (sess *nsSession) writeLoop() {
	defer sess.conn.Close()
	for {
		sess.outMu.Lock()
		for len(sess.outQ) == 0 && !sess.closing {
			sess.outCond.Wait()
		}
		if len(sess.outQ) == 0 {
			sess.outMu.Unlock()
			return
		}
		b := sess.outQ[0]
		sess.outQ[0] = nil
		sess.outQ = sess.outQ[1:]
		sess.outMu.Unlock()
		if d := time.Duration(sess.s.delay.Load()); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-sess.s.closed:
				t.Stop()
				return
			}
		}
		if _, err := sess.conn.Write(b); err != nil {
			sess.log.Debug().Err(err).Msg("write failed")
			return
		}
	}
}

// endSession removes a session from the server and tells its contacts when
// the account went offline. Server.mu must be held. Idempotent.
func (s *Server) endSession(sess *nsSession) {
	if sess.gone {
		return
	}
	sess.gone = true
	delete(s.sessions, sess)
	if sess.acct == nil {
		return
	}
	a := sess.acct
	a.sessions = slices.DeleteFunc(a.sessions, func(o *nsSession) bool { return o == sess })
	s.endCircleSession(sess)
	if len(s.sessionsOf(a)) == 0 {
		wasShown := a.status != ""
		a.status = ""
		if wasShown {
			s.broadcastPresence(a)
		}
	} else if sess.chgDone {
		s.broadcastPresence(a) // the endpoint list changed
	}
	s.notifyChanged()
}

// sessionsOf returns the logged-in NS sessions of an account.
func (s *Server) sessionsOf(a *account) []*nsSession {
	if a == nil {
		return nil
	}
	return slices.Clone(a.sessions)
}
