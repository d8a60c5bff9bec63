package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"maunium.net/go/mautrix/bridgev2/networkid"

	"github.com/mautrix-msn/mautrix-msn/database"
)

// conversationTracker remembers which live multi-party conversations belong
// to which group portal. A conversation keeps its group portal while people
// join and leave as long as at least two others remain; when its switchboard
// closes (or only one person is left) the mapping is dropped, and the same
// set of people talking again finds the portal through the database.
type conversationTracker struct {
	mu       sync.Mutex
	byKey    map[string]networkid.PortalKey // participant key -> group portal
	byPortal map[networkid.PortalKey][]string
	// setup maps the participant sets a group conversation started from
	// Matrix passes through while people are called in (one person, then
	// two...) to its portal, for joins only: a message from a set of one
	// person is that person's DM, never the group being set up.
	setup map[string]networkid.PortalKey
}

// newConversationTracker returns an empty tracker; its maps are made at
// the first group conversation (most logins never have one).
func newConversationTracker() *conversationTracker {
	return &conversationTracker{}
}

// settingUp routes the joins of a conversation with participants to pk
// while a group conversation is being set up (see setup); done ends it.
func (t *conversationTracker) settingUp(participants []string, pk networkid.PortalKey) (done func()) {
	key := participantKey(participants)
	t.mu.Lock()
	if t.setup == nil {
		t.setup = make(map[string]networkid.PortalKey)
	}
	t.setup[key] = pk
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.setup[key] == pk {
			delete(t.setup, key)
		}
	}
}

func (t *conversationTracker) lookup(participants []string) (networkid.PortalKey, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pk, ok := t.byKey[participantKey(participants)]
	return pk, ok
}

func (t *conversationTracker) set(participants []string, pk networkid.PortalKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byKey == nil {
		t.byKey = make(map[string]networkid.PortalKey)
		t.byPortal = make(map[networkid.PortalKey][]string)
	}
	if old, ok := t.byPortal[pk]; ok {
		delete(t.byKey, participantKey(old))
	}
	t.byKey[participantKey(participants)] = pk
	t.byPortal[pk] = slices.Clone(participants)
}

// move re-keys the conversation from the old participant set to the new one
// and reports the group portal it belonged to. Events carry no switchboard
// identity, only the participant set, so a conversation that shrinks below
// two other people is let go: a set of one person is the DM of that person,
// and keeping it mapped would pull their one-to-one messages (from any
// other switchboard) into the group room.
func (t *conversationTracker) move(from, to []string) (networkid.PortalKey, bool) {
	t.mu.Lock()
	pk, ok := t.byKey[participantKey(from)]
	if !ok && len(to) > len(from) {
		pk, ok = t.setup[participantKey(from)]
	}
	t.mu.Unlock()
	if !ok {
		return pk, false
	}
	if len(to) < 2 {
		t.removePortal(pk)
	} else {
		t.set(to, pk)
	}
	return pk, true
}

func (t *conversationTracker) remove(participants []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	key := participantKey(participants)
	if pk, ok := t.byKey[key]; ok {
		delete(t.byKey, key)
		delete(t.byPortal, pk)
	}
}

func (t *conversationTracker) removePortal(pk networkid.PortalKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if parts, ok := t.byPortal[pk]; ok {
		delete(t.byKey, participantKey(parts))
		delete(t.byPortal, pk)
	}
}

// participantsOf returns the live participants of a group portal.
func (t *conversationTracker) participantsOf(pk networkid.PortalKey) ([]string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts, ok := t.byPortal[pk]
	return slices.Clone(parts), ok
}

// portalFor returns the portal of a conversation with these participants
// (other than the user): its live group portal, the DM portal of a single
// contact, or the stored group portal of this set of people (created when
// new).
func (m *MSNClient) portalFor(ctx context.Context, participants []string) (networkid.PortalKey, error) {
	if pk, ok := m.convs.lookup(participants); ok {
		return pk, nil
	}
	switch len(participants) {
	case 0:
		return networkid.PortalKey{}, fmt.Errorf("conversation has no participants")
	case 1:
		return makeDMPortalKey(participants[0], m.login.ID), nil
	}
	pk, err := m.groupPortalKey(ctx, participants)
	if err != nil {
		return pk, err
	}
	m.convs.set(participants, pk)
	return pk, nil
}

// groupPortalKey returns the group portal of a participant set, storing a
// new one when this set of people never talked together before.
func (m *MSNClient) groupPortalKey(ctx context.Context, participants []string) (networkid.PortalKey, error) {
	row, err := m.connector.DB.GroupPortal.GetOrInsert(ctx, &database.GroupPortal{
		LoginID:      string(m.login.ID),
		Participants: participants,
		PortalID:     string(newGroupPortalID()),
	})
	if err != nil {
		return networkid.PortalKey{}, fmt.Errorf("find group portal: %w", err)
	}
	return networkid.PortalKey{ID: networkid.PortalID(row.PortalID), Receiver: m.login.ID}, nil
}

// groupParticipants returns who to talk to in a group portal: the live
// conversation's participants, else the stored set.
func (m *MSNClient) groupParticipants(ctx context.Context, pk networkid.PortalKey) ([]string, error) {
	if parts, ok := m.convs.participantsOf(pk); ok && len(parts) > 0 {
		return parts, nil
	}
	row, err := m.connector.DB.GroupPortal.GetByPortalID(ctx, string(m.login.ID), string(pk.ID))
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("unknown group conversation %s", pk.ID)
	}
	return row.Participants, nil
}
