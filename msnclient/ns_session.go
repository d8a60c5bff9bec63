package msnclient

import (
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/oim"
)

// session is one logged-in (or logging-in) notification-server connection.
// Exactly one Disconnected is emitted per session that reached Connected.
type session struct {
	c    *Client
	conn *nsConn
	d    *dialect

	mu        sync.Mutex
	connected bool
	ended     bool
	ping      *time.Timer
	interval  time.Duration     // ping interval from QNG
	outReason *DisconnectReason // set by OUT: wins over the connection error
	outErr    error
	early     []any // events of the login burst, held until Connected

	syn *synState // SYN in progress (guarded by Client.mu)

	// abTicket authenticates the address book services (MSNP13+): the
	// Tweener ticket, or the contacts.msn.com RST ticket. Only this one
	// ticket is kept after login. Guarded by mu.
	abTicket string
	// web holds the offline message service tickets (ns_oim.go), guarded
	// by mu.
	web webTickets
	// oim stores offline messages (ns_oim.go), made on first use and kept
	// for the session so that the answered lock key is reused. Guarded by
	// mu.
	oim *oim.Client

	refreshing   bool // an address book refetch is running (guarded by mu)
	refreshAgain bool // another one was asked for meanwhile

	closing bool // Close was called: the connection end is ours (guarded by mu)

	// burstDone is set (on the reader goroutine only) by the initial mail
	// notification that follows the login presence burst; MSNP18 marks
	// its burst with NLN instead of ILN, so this tells them apart.
	burstDone bool
}

func newSession(c *Client, conn *nsConn, d *dialect) *session {
	return &session{c: c, conn: conn, d: d}
}

// run reads the connection until it ends, then ends the session.
func (s *session) run() {
	err := s.conn.readLoop(s.c.cfg.DeadTimeout, s.handle)
	s.end(ReasonConnectionLost, err)
}

// markConnected records that login completed and emits Connected. It
// returns false if the session already ended.
func (s *session) markConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.connected = true
	s.c.emit(&Connected{Version: s.d.version})
	for _, evt := range s.early {
		s.c.emit(evt)
	}
	s.early = nil
	return true
}

// emit queues an event of this session. Events of the login burst (initial
// presence) are held until Connected has been emitted; events of a session
// that ended are dropped.
func (s *session) emit(evt any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.ended:
	case s.connected:
		s.c.emit(evt)
	default:
		s.early = append(s.early, evt)
	}
}

func (s *session) isConnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected && !s.ended
}

func (s *session) isEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// end closes the session once. A reason given by the server (OUT) wins over
// the connection error that follows it.
func (s *session) end(reason DisconnectReason, err error) {
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	switch {
	case s.closing:
		reason, err = ReasonClosed, nil
	case s.outReason != nil && reason == ReasonConnectionLost:
		reason, err = *s.outReason, s.outErr
	}
	wasConnected := s.connected
	if s.ping != nil {
		s.ping.Stop()
	}
	s.mu.Unlock()

	s.conn.close(err)
	c := s.c
	c.sb.closeAll()
	c.abortP2P()
	c.clearPresence()
	if wasConnected {
		c.log.Info().Int("reason", int(reason)).AnErr("error", err).Msg("MSN session ended")
		c.emit(&Disconnected{Reason: reason, Err: err})
	}
	// Only now may Connect start a new session.
	c.mu.Lock()
	if c.sess == s {
		c.sess = nil
	}
	c.mu.Unlock()
}

// outError is the error of a server-initiated sign-out.
func outError(reason DisconnectReason) error {
	switch reason {
	case ReasonOtherLogin:
		return ErrSignedInElsewhere
	case ReasonServerShutdown:
		return errServerShutdown
	}
	return nil
}

// handle processes one command that is not a reply to a request. It runs on
// the reader goroutine and must never block on the network or the handler.
func (s *session) handle(cmd *msnp.Command) {
	c := s.c
	switch cmd.Name {
	case "ILN", "NLN":
		c.handlePresence(s, cmd)
	case "FLN":
		c.handleOffline(s, cmd)
	case "UBX":
		c.handleUBX(s, cmd)
	case "CHL":
		// Answered off the reader: the write may block on a slow server.
		go s.answerChallenge(cmd)
	case "QNG":
		s.handleQNG(cmd)
	case "RNG":
		c.handleRing(cmd)
	case "OUT":
		s.handleOUT(cmd)
	case "XFR":
		// A mid-session XFR NS (historical, MSNP<=12) moves us to another
		// server: end the session so that the caller reconnects.
		if cmd.Arg(1) == "NS" {
			c.log.Info().Str("cmd", cmd.Redacted()).Msg("Notification server moved us elsewhere")
			s.end(ReasonConnectionLost, fmt.Errorf("msn: server redirected the session to %s", cmd.Arg(2)))
			return
		}
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring late XFR reply")
	case "MSG":
		s.handleNSMessage(cmd)
	case "LST", "LSG", "BPR", "BLP", "GTC", "PRP", "ADD", "ADC", "REM", "SYN":
		c.handleSYNLine(s, cmd)
	case "ADL", "RML":
		c.handleServerML(s, cmd)
	case "NOT":
		c.handleNOT(s, cmd)
	case "NFY":
		c.handleNFY(s, cmd) // ns_circles_wire.go
	case "SDG":
		c.handleSDG(s, cmd)
	case "GCF", "SBS", "UBN", "IPG", "UUX", "CHG", "QRY":
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring notification server command")
	default:
		if cmd.IsError() {
			c.log.Warn().Err(cmd.Err()).Str("cmd", cmd.Redacted()).Msg("Unexpected error from notification server")
			return
		}
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring unknown notification server command")
	}
}

// handleOUT ends the session with the server's reason.
func (s *session) handleOUT(cmd *msnp.Command) {
	reason := ReasonConnectionLost
	switch cmd.Arg(0) {
	case "OTH":
		reason = ReasonOtherLogin
	case "SSD":
		reason = ReasonServerShutdown
	}
	s.c.log.Info().Str("cmd", cmd.Redacted()).Msg("Notification server signed us out")
	err := outError(reason)
	if reason == ReasonConnectionLost {
		err = fmt.Errorf("%w (%s)", errSignedOut, strings.Join(cmd.Args, " "))
	}
	s.mu.Lock()
	s.outReason, s.outErr = &reason, err
	s.mu.Unlock()
	s.end(reason, err)
}

// answerChallenge answers CHL with QRY (both algorithms, by dialect).
func (s *session) answerChallenge(cmd *msnp.Command) {
	chl := cmd.Arg(1)
	if chl == "" {
		s.c.log.Warn().Str("cmd", cmd.Redacted()).Msg("CHL without challenge")
		return
	}
	id, resp := msnp.ChallengeResponse(s.d.version, chl)
	if err := s.conn.send(msnp.NewPayload("QRY", []byte(resp), id)); err != nil {
		s.c.log.Warn().Err(err).Msg("Failed to answer challenge")
	}
}

// handleNSMessage logs notification-server messages (profile, mail
// notifications, system messages); none of them is needed.
func (s *session) handleNSMessage(cmd *msnp.Command) {
	ct := ""
	for _, line := range strings.Split(string(cmd.Payload), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(name), "Content-Type") {
			ct = strings.TrimSpace(value)
			break
		}
	}
	if strings.Contains(ct, "initialmdatanotification") || strings.Contains(ct, "initialemailnotification") {
		s.burstDone = true
	}
	if s.handleMailData(ct, cmd.Payload) {
		return
	}
	s.c.log.Debug().Str("content_type", ct).Msg("Ignoring notification server message")
}
