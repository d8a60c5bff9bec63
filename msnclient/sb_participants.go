package msnclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// splitEndpoint splits "email;{guid}" into the lower-cased email and the
// endpoint id ("" for a plain line).
func splitEndpoint(s string) (email, endpoint string) {
	email, endpoint, _ = strings.Cut(s, ";")
	return strings.ToLower(email), endpoint
}

// addParticipant records a JOI/IRO line and, when emitEvent and the person
// is new to the session, emits ParticipantJoined. Our own endpoints are ignored.
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
	sb.lastActive = time.Now()
	if name != "" {
		sb.names[email] = name
	}
	delete(sb.invited, email)
	delete(sb.absent, email)
	sb.notifyLocked()
	parts := sb.membersLocked()
	sb.lastParts = parts
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
	parts := sb.membersLocked()
	if len(sb.participants) > 0 {
		sb.lastParts = parts
	}
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

// membersLocked returns the joined participants and those the opener could
// not reach, sorted: the conversation's participants in events.
func (sb *sbConn) membersLocked() []string {
	out := sb.participantsLocked()
	if len(sb.absent) == 0 {
		return out
	}
	for email := range sb.absent {
		if sb.participants[email] == nil {
			out = append(out, email)
		}
	}
	sort.Strings(out)
	return out
}

// members returns membersLocked.
func (sb *sbConn) members() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.membersLocked()
}

// target returns joined, invited and unreachable participants, sorted: the
// set this switchboard serves.
func (sb *sbConn) target() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := sb.membersLocked()
	for email := range sb.invited {
		if sb.participants[email] == nil && sb.absent[email] == nil {
			out = append(out, email)
		}
	}
	sort.Strings(out)
	return out
}

// markAbsent records that email could not be invited.
func (sb *sbConn) markAbsent(email string, err error) {
	sb.mu.Lock()
	if sb.participants[email] == nil {
		sb.absent[email] = err
	}
	sb.mu.Unlock()
}

// absentErr returns why email could not be invited.
func (sb *sbConn) absentErr(email string) error {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.absent[email]
}

// absentees returns the members that could not be invited.
func (sb *sbConn) absentees() []string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	out := make([]string, 0, len(sb.absent))
	for email := range sb.absent {
		out = append(out, email)
	}
	sort.Strings(out)
	return out
}

// waitAnyJoined waits until at least one person is in the session.
func (sb *sbConn) waitAnyJoined(ctx context.Context) error {
	return sb.waitFor(ctx, func() string {
		if len(sb.participants) > 0 {
			return ""
		}
		return "someone"
	})
}

// call invites email into the session (CAL) and waits for RINGING.
func (sb *sbConn) call(ctx context.Context, email string) error {
	email = strings.ToLower(email)
	if err := checkInvitee(email); err != nil {
		return err
	}
	sb.mu.Lock()
	_, joined := sb.participants[email]
	if !joined {
		sb.invited[email] = true
		sb.lastActive = time.Now()
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
		if errors.As(err, &se) && se.Code == 217 {
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
	return sb.waitFor(ctx, func() string {
		for _, e := range emails {
			if sb.participants[e] == nil {
				return e
			}
		}
		return ""
	})
}

// waitFor waits until missing (called with sb.mu held) names nobody.
func (sb *sbConn) waitFor(ctx context.Context, missing func() string) error {
	for {
		sb.mu.Lock()
		who := missing()
		changed := sb.changed
		sb.mu.Unlock()
		if who == "" {
			return nil
		}
		select {
		case <-changed:
		case <-sb.done:
			return fmt.Errorf("wait for %s to join: %w", who, errSBClosed)
		case <-ctx.Done():
			return fmt.Errorf("wait for %s to join: %w", who, ErrTimeout)
		}
	}
}

// checkInvitee rejects addresses that cannot be a contact before anything
// is sent.
func checkInvitee(email string) error {
	at := strings.IndexByte(email, '@')
	if at <= 0 || at == len(email)-1 || strings.ContainsAny(email, " \t\r\n\x00;") {
		return fmt.Errorf("invite %q: not an email address", email)
	}
	return nil
}
