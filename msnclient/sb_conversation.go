package msnclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Conversation is a conversation with a set of participants. The switchboard
// behind it is opened, replaced and closed as needed.
type Conversation struct {
	s *switchboards

	mu           sync.Mutex // guards the fields below; never held during network I/O
	participants []string
	sb           *sbConn
	opening      *openCall // the switchboard being opened, nil when none
}

// openCall is one switchboard being opened; concurrent senders wait for it
// instead of opening another.
type openCall struct {
	done chan struct{}
	sb   *sbConn
	err  error
}

// Conversation returns the conversation with these participants (emails),
// creating a handle if none exists; nothing is sent until it is used.
func (c *Client) Conversation(participants ...string) *Conversation {
	set := normalizeParticipants(participants, strings.ToLower(c.Email()))
	key := strings.Join(set, ",")
	s := c.sb
	s.mu.Lock()
	defer s.mu.Unlock()
	if cv := s.convs[key]; cv != nil {
		return cv
	}
	cv := &Conversation{s: s, participants: set}
	s.convs[key] = cv
	return cv
}

func normalizeParticipants(in []string, self string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, p := range in {
		p = strings.ToLower(strings.TrimSpace(p))
		if p == "" || p == self || seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Participants returns the other participants, lower-cased and sorted.
func (cv *Conversation) Participants() []string {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	return append([]string(nil), cv.participants...)
}

// ensure returns a live switchboard with the conversation's participants,
// opening one if needed. Concurrent callers share one opening; no lock is
// held while it runs.
func (cv *Conversation) ensure(ctx context.Context) (*sbConn, error) {
	for {
		sb, wait, err := cv.current()
		if err != nil {
			return nil, err
		}
		if sb != nil {
			cv.reinviteAbsent(ctx, sb)
			return sb, nil
		}
		if wait != nil {
			select {
			case <-wait.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if wait.err != nil && !errors.Is(wait.err, context.Canceled) && !errors.Is(wait.err, context.DeadlineExceeded) {
				return nil, wait.err
			}
			continue // opened (or the opener gave up): look again
		}
		return cv.openNew(ctx)
	}
}

// current returns the switchboard to use, or the opening in progress to
// wait for; both nil means the caller is to open one.
func (cv *Conversation) current() (*sbConn, *openCall, error) {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if len(cv.participants) == 0 {
		return nil, nil, errors.New("conversation has no participants")
	}
	for _, p := range cv.participants {
		if err := checkInvitee(p); err != nil {
			return nil, nil, err
		}
	}
	if cv.sb != nil && cv.sb.usable() && equalStrings(cv.sb.target(), cv.participants) {
		return cv.sb, nil, nil
	}
	if sb := cv.s.find(cv.participants); sb != nil {
		cv.sb = sb
		return sb, nil, nil
	}
	if cv.opening != nil {
		return nil, cv.opening, nil
	}
	return nil, nil, nil
}

// openNew opens a switchboard, unless another caller started meanwhile.
func (cv *Conversation) openNew(ctx context.Context) (*sbConn, error) {
	cv.mu.Lock()
	if cv.opening != nil {
		cv.mu.Unlock()
		return cv.ensure(ctx)
	}
	op := &openCall{done: make(chan struct{})}
	cv.opening = op
	parts := append([]string(nil), cv.participants...)
	cv.mu.Unlock()

	sb, err := cv.s.open(ctx, parts)
	if err != nil {
		err = fmt.Errorf("open conversation with %s: %w", strings.Join(parts, ", "), err)
	}
	cv.mu.Lock()
	op.sb, op.err = sb, err
	if sb != nil {
		cv.sb = sb
	}
	cv.opening = nil
	cv.mu.Unlock()
	close(op.done)
	return sb, err
}

// reinviteAbsent invites again the members the switchboard could not reach
// when it was opened, if they are online now. It does not wait for them.
func (cv *Conversation) reinviteAbsent(ctx context.Context, sb *sbConn) {
	for _, p := range sb.absentees() {
		if ct, ok := cv.s.c.Contact(p); !ok || ct.Status == "" || ct.Status == StatusOffline {
			continue
		}
		if err := sb.call(ctx, p); err != nil {
			sb.log.Debug().Err(err).Str("email", p).Msg("Could not invite a participant again")
		}
	}
}

// send sends one payload. A switchboard that closed before the message was
// written is replaced and the message sent there; one that closed after
// is not, as the message may have been relayed (UnconfirmedError).
func (cv *Conversation) send(ctx context.Context, mode string, payload []byte) error {
	_, err := cv.sendVia(ctx, mode, payload)
	return err
}

// sendVia is send, and also returns the switchboard the message was
// written on (nil when it was not written).
func (cv *Conversation) sendVia(ctx context.Context, mode string, payload []byte) (*sbConn, error) {
	id := cv.s.nextMsgID.Add(1)
	for attempt := 0; ; attempt++ {
		sb, err := cv.ensure(ctx)
		if err == nil {
			err = cv.waitForSomeone(ctx, sb)
		}
		if err != nil {
			// A switchboard closed while we waited for someone to join
			// (the invitee signed out): the message goes on a new one.
			if errors.Is(err, errSBClosed) && attempt == 0 && ctx.Err() == nil {
				cv.s.log.Debug().Err(err).Msg("switchboard closed before anyone joined, opening a new one")
				continue
			}
			return nil, err
		}
		actx, cancel := context.WithTimeout(ctx, cv.s.requestTimeout())
		err = sb.sendMessage(actx, mode, payload, id)
		cancel()
		var unconfirmed *UnconfirmedError
		switch {
		case err == nil:
			return sb, nil
		case errors.Is(err, errSBClosed) && !errors.As(err, &unconfirmed) && attempt == 0:
			cv.s.log.Debug().Msg("switchboard closed before the message was written, sending on a new one")
			continue
		case errors.Is(err, errSBClosed) && !errors.As(err, &unconfirmed):
			return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
		case errors.As(err, &unconfirmed) && unconfirmed.Late && ctx.Err() == nil:
			// No acknowledgement in time: the switchboard may have died
			// silently. The next message goes to a fresh one; this one
			// stays a while for the late acknowledgement.
			cv.s.log.Debug().Uint64("msg_id", id).Msg("no acknowledgement in time, retiring the switchboard")
			sb.retire()
		}
		return sb, err
	}
}

// waitForSomeone waits, before a message is written, until someone joined
// a switchboard that so far has only invitations out (an invitee that
// answered late, after the opening gave up waiting).
func (cv *Conversation) waitForSomeone(ctx context.Context, sb *sbConn) error {
	if len(sb.Participants()) > 0 {
		return nil
	}
	jctx, cancel := context.WithTimeout(ctx, cv.s.joinTimeout)
	defer cancel()
	return sb.waitAnyJoined(jctx)
}

// Open opens the conversation's switchboard and calls its participants in,
// unless one is open already, and waits until everyone who could be
// called joined, so that a message sent next reaches them all (a message
// reaches only those in the switchboard when it is sent). Those who cannot
// be reached are reported (ParticipantUnreachable), as when a message
// opens it; Open does not wait for them. Concurrent senders share the
// opening.
func (cv *Conversation) Open(ctx context.Context) error {
	sb, err := cv.ensure(ctx)
	if err != nil {
		return err
	}
	absent := sb.absentees()
	var called []string
	for _, p := range cv.Participants() {
		if !slices.Contains(absent, p) {
			called = append(called, p)
		}
	}
	jctx, cancel := context.WithTimeout(ctx, cv.s.joinTimeout)
	defer cancel()
	if err := sb.waitJoined(jctx, called); err != nil {
		return fmt.Errorf("open conversation: %w", err)
	}
	return nil
}

// SendText sends a message and returns when every part was acknowledged.
// Text longer than one switchboard message is split into several.
func (cv *Conversation) SendText(ctx context.Context, msg TextMessage) error {
	header := buildTextHeader(msg.Format)
	parts := splitText(normalizeText(msg.Text), maxPayload-len(header))
	for i, part := range parts {
		payload := make([]byte, 0, len(header)+len(part))
		payload = append(append(payload, header...), part...)
		if err := cv.send(ctx, "A", payload); err != nil {
			if len(parts) > 1 {
				return fmt.Errorf("send part %d of %d: %w", i+1, len(parts), err)
			}
			return fmt.Errorf("send message: %w", err)
		}
	}
	return nil
}

// SendTyping sends one typing notification, if the conversation has a
// switchboard open with someone in it; otherwise it does nothing and
// returns nil. Typing alone never opens a switchboard (that would ring
// the contacts, or fail for offline ones, for every typing start).
func (cv *Conversation) SendTyping(ctx context.Context) error {
	cv.mu.Lock()
	sb := cv.sb
	if sb == nil || !sb.usable() || !equalStrings(sb.target(), cv.participants) {
		sb = cv.s.find(cv.participants)
	}
	cv.mu.Unlock()
	if sb == nil || len(sb.Participants()) == 0 {
		return nil
	}
	if err := sb.sendMessage(ctx, "U", buildTyping(cv.s.c.Email()), 0); err != nil {
		return fmt.Errorf("send typing: %w", err)
	}
	return nil
}

// SendNudge sends a nudge.
func (cv *Conversation) SendNudge(ctx context.Context) error {
	if err := cv.send(ctx, "N", []byte(nudgePayload)); err != nil {
		return fmt.Errorf("send nudge: %w", err)
	}
	return nil
}

// Invite invites another contact into the conversation, which from then on
// addresses the larger set of participants.
func (cv *Conversation) Invite(ctx context.Context, email string) error {
	email = strings.ToLower(strings.TrimSpace(email))
	sb, err := cv.ensure(ctx)
	if err != nil {
		return err
	}
	if err := sb.call(ctx, email); err != nil {
		return err
	}
	jctx, cancel := context.WithTimeout(ctx, sbJoinTimeout)
	defer cancel()
	if err := sb.waitJoined(jctx, []string{email}); err != nil {
		return fmt.Errorf("invite %s: %w", email, err)
	}
	s := cv.s
	cv.mu.Lock()
	oldKey := strings.Join(cv.participants, ",")
	cv.participants = normalizeParticipants(append(cv.participants, email), strings.ToLower(s.c.Email()))
	newKey := strings.Join(cv.participants, ",")
	cv.mu.Unlock()
	s.mu.Lock()
	if s.convs[oldKey] == cv {
		delete(s.convs, oldKey)
	}
	if s.convs[newKey] == nil {
		s.convs[newKey] = cv
	}
	s.mu.Unlock()
	return nil
}

// Leave leaves the conversation (OUT) and closes its switchboards.
func (cv *Conversation) Leave() error {
	cv.mu.Lock()
	parts := cv.participants
	cv.sb = nil
	cv.mu.Unlock()
	for sb := cv.s.find(parts); sb != nil; sb = cv.s.find(parts) {
		sb.close()
		<-sb.done
	}
	return nil
}
