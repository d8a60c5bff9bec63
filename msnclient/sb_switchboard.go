package msnclient

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// switchboards manages a client's switchboard connections and the
// conversation handles addressing them.
type switchboards struct {
	c   *Client
	log zerolog.Logger

	// chunkExpiry is how long a chunked message may take to arrive whole.
	chunkExpiry time.Duration
	// joinTimeout bounds the wait for invitees to join a new session.
	joinTimeout time.Duration
	// closeTimeout bounds the OUT lines written when closing.
	closeTimeout time.Duration
	// nextMsgID numbers sent messages for UnconfirmedError and
	// MessageAcknowledged.
	nextMsgID atomic.Uint64

	mu    sync.Mutex
	conns []*sbConn // live, oldest first
	convs map[string]*Conversation
	// gen counts closeAll calls: a switchboard whose join started in an
	// earlier generation (before a disconnect) is refused by add.
	gen uint64
}

func newSwitchboards(c *Client) *switchboards {
	log := zerolog.Nop()
	if c.cfg.Logger != nil {
		log = c.cfg.Logger.With().Str("component", "switchboard").Logger()
	}
	return &switchboards{c: c, log: log, chunkExpiry: defaultChunkExpiry, joinTimeout: sbJoinTimeout,
		closeTimeout: closeWriteTimeout, convs: make(map[string]*Conversation)}
}

func (s *switchboards) dialTimeout() time.Duration {
	if d := s.c.cfg.DialTimeout; d > 0 {
		return d
	}
	return 15 * time.Second
}

func (s *switchboards) idleTimeout() time.Duration {
	if d := s.c.cfg.SwitchboardIdleTimeout; d > 0 {
		return d
	}
	return defaultSBIdleTimeout
}

func (s *switchboards) requestTimeout() time.Duration {
	if d := s.c.cfg.RequestTimeout; d > 0 {
		return d
	}
	return 30 * time.Second
}

// generation returns the current generation, to be passed to add.
func (s *switchboards) generation() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// add registers a switchboard that finished its handshake. If closeAll ran
// since gen was taken (the client disconnected meanwhile), the switchboard
// is closed instead and ErrNotConnected returned.
func (s *switchboards) add(sb *sbConn, gen uint64) error {
	s.mu.Lock()
	if gen != s.gen {
		s.mu.Unlock()
		sb.close()
		return fmt.Errorf("switchboard joined after disconnect: %w", ErrNotConnected)
	}
	s.conns = append(s.conns, sb)
	s.mu.Unlock()
	return nil
}

func (s *switchboards) remove(sb *sbConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, x := range s.conns {
		if x == sb {
			s.conns = append(s.conns[:i], s.conns[i+1:]...)
			return
		}
	}
}

// OpenSwitchboards returns how many switchboard (conversation) connections
// are open.
func (c *Client) OpenSwitchboards() int {
	s := c.sb
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, sb := range s.conns {
		if !sb.isClosed() {
			n++
		}
	}
	return n
}

// find returns the newest live switchboard serving exactly these
// participants.
func (s *switchboards) find(participants []string) *sbConn {
	s.mu.Lock()
	conns := append([]*sbConn(nil), s.conns...)
	s.mu.Unlock()
	for i := len(conns) - 1; i >= 0; i-- {
		if conns[i].usable() && equalStrings(conns[i].target(), participants) {
			return conns[i]
		}
	}
	return nil
}

// handleRing is called by the NS reader for RNG (an invitation). It joins the
// session in the background.
func (s *switchboards) handleRing(sessionID, addr, cookie, inviter, inviterName string) {
	// Taken before the session check: a disconnect after the check bumps
	// the generation, so the join is refused.
	gen := s.generation()
	if sess := s.c.session(); sess == nil || sess.isEnded() {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), sbHandshakeTimeout)
		defer cancel()
		if err := s.join(ctx, gen, sessionID, addr, cookie); err != nil {
			s.log.Warn().Err(err).Str("inviter", inviter).Msg("could not join switchboard")
		}
	}()
}

// answer joins a session we were invited to.
func (s *switchboards) answer(ctx context.Context, sessionID, addr, cookie string) error {
	return s.join(ctx, s.generation(), sessionID, addr, cookie)
}

// join joins a session we were invited to, unless the client disconnected
// since generation gen.
func (s *switchboards) join(ctx context.Context, gen uint64, sessionID, addr, cookie string) error {
	sb, err := s.dialSB(ctx, addr)
	if err != nil {
		return err
	}
	if err := sb.handshakeANS(ctx, cookie, sessionID); err != nil {
		_ = sb.conn.Close()
		return err
	}
	if err := s.add(sb, gen); err != nil {
		return err
	}
	sb.start()
	return nil
}

// open starts a new session (XFR SB, USR) and invites the participants.
// Those who cannot be invited (CAL refused, e.g. 217 offline) are left out
// and reported with ParticipantUnreachable as long as someone else could
// be invited; if nobody could, the session is closed and the first refusal
// returned. It waits until every invited person joined, or at least one
// did when sbJoinTimeout passed. A switchboard where an invitation is out
// is never left because of a timeout here: the invitee may still answer
// (Pidgin answers late), and would then be alone in it.
func (s *switchboards) open(ctx context.Context, participants []string) (*sbConn, error) {
	gen := s.generation()
	addr, cookie, err := s.c.transferToSwitchboard(ctx)
	if err != nil {
		return nil, fmt.Errorf("request switchboard: %w", err)
	}
	sb, err := s.dialSB(ctx, addr)
	if err != nil {
		return nil, err
	}
	if err := sb.handshakeUSR(ctx, cookie); err != nil {
		_ = sb.conn.Close()
		return nil, err
	}
	if err := s.add(sb, gen); err != nil {
		return nil, err
	}
	sb.start()
	var rung []string
	var refused error
	for _, p := range participants {
		err := sb.call(ctx, p)
		if err == nil {
			rung = append(rung, p)
			continue
		}
		var se *msnp.ServerError
		if !errors.As(err, &se) {
			// The connection or the context failed: nothing more can be
			// sent. A switchboard with an invitation out stays for its
			// idle timeout.
			if len(rung) == 0 {
				sb.close()
			}
			return nil, err
		}
		sb.markAbsent(p, err)
		if refused == nil {
			refused = err
		}
	}
	if len(rung) == 0 {
		sb.close()
		return nil, refused
	}
	for _, p := range sb.absentees() {
		sb.log.Info().Str("email", p).Msg("Could not invite a participant; the conversation goes on without them")
		// The conversation as addressed: the invitees may not have
		// joined yet.
		s.c.emit(&ParticipantUnreachable{ConversationEvent: ConversationEvent{Participants: sb.target()}, Email: p, Err: sb.absentErr(p)})
	}
	jctx, cancel := context.WithTimeout(ctx, s.joinTimeout)
	defer cancel()
	if err := sb.waitJoined(jctx, rung); err != nil {
		if errors.Is(err, errSBClosed) {
			return nil, err
		}
		if werr := sb.waitAnyJoined(jctx); werr != nil {
			return nil, err
		}
	}
	return sb, nil
}

// closeAll closes every switchboard (on disconnect or Close), at the same
// time: the OUT lines share one deadline, so that many switchboards take no
// longer to close than one.
func (s *switchboards) closeAll() {
	s.mu.Lock()
	s.gen++
	conns := append([]*sbConn(nil), s.conns...)
	s.mu.Unlock()
	deadline := time.Now().Add(s.closeTimeout)
	var wg sync.WaitGroup
	for _, sb := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sb.closeBefore(deadline)
		}()
	}
	wg.Wait()
}
