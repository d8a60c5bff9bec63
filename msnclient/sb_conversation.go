package msnclient

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Conversation is a conversation with a set of participants. The switchboard
// behind it is opened, replaced and closed as needed.
type Conversation struct {
	s *switchboards

	mu           sync.Mutex // held while finding or opening a switchboard
	participants []string
	sb           *sbConn
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
// opening one if needed.
func (cv *Conversation) ensure(ctx context.Context) (*sbConn, error) {
	cv.mu.Lock()
	defer cv.mu.Unlock()
	if len(cv.participants) == 0 {
		return nil, errors.New("conversation has no participants")
	}
	for _, p := range cv.participants {
		if err := checkInvitee(p); err != nil {
			return nil, err
		}
	}
	if cv.sb != nil && cv.sb.usable() && equalStrings(cv.sb.target(), cv.participants) {
		return cv.sb, nil
	}
	if sb := cv.s.find(cv.participants); sb != nil {
		cv.sb = sb
		return sb, nil
	}
	sb, err := cv.s.open(ctx, cv.participants)
	if err != nil {
		return nil, fmt.Errorf("open conversation with %s: %w", strings.Join(cv.participants, ", "), err)
	}
	cv.sb = sb
	return sb, nil
}

// send sends one payload; a switchboard that closed before acknowledging is
// replaced and the payload sent once more.
func (cv *Conversation) send(ctx context.Context, mode string, payload []byte) error {
	for attempt := 0; ; attempt++ {
		sb, err := cv.ensure(ctx)
		if err == nil {
			actx, cancel := context.WithTimeout(ctx, cv.s.requestTimeout())
			err = sb.sendMessage(actx, mode, payload)
			cancel()
		}
		switch {
		case err == nil:
			return nil
		case errors.Is(err, errSBClosed) && attempt == 0:
			cv.s.log.Debug().Msg("switchboard closed before the acknowledgement, resending on a new one")
			continue
		case errors.Is(err, errSBClosed):
			return fmt.Errorf("%w: %w", ErrNotDelivered, err)
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			// No acknowledgement in time: the switchboard may have died
			// silently. Close it so the next message opens a fresh one.
			cv.s.log.Debug().Msg("no acknowledgement in time, closing the switchboard")
			if sb != nil {
				sb.close()
			}
			return fmt.Errorf("%w: %w", ErrNotDelivered, ErrTimeout)
		}
		return err
	}
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

// SendTyping sends one typing notification.
func (cv *Conversation) SendTyping(ctx context.Context) error {
	if err := cv.send(ctx, "U", buildTyping(cv.s.c.Email())); err != nil {
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
