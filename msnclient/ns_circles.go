package msnclient

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/mautrix-msn/mautrix-msn/msnclient/abch"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// MSNP18 circles, notification-server side: discovery in the address book,
// authentication with the circle ticket (USR SHA), joining (circle ADL,
// PUT roster), membership changes and the circle methods. The wire formats
// of SDG, NFY and PUT are in ns_circles_wire.go.

// NetworkCircle is the network id of circles (MSNP18).
const NetworkCircle Network = 9

// circleFetchParallel bounds the circle address books read at once.
const circleFetchParallel = 4

// circleSet is what the client knows of its circles (guarded by Client.mu).
type circleSet struct {
	sess   *session // the session authed/joined belong to
	authed bool     // USR SHA succeeded on sess
	// authFailed: a rejected ticket was reported on sess; later attempts
	// (each address book re-read brings a fresh ticket) fail quietly.
	authFailed bool
	ticket     string   // latest circle ticket (unescaped SignedTicket)
	found      []Circle // circles of the latest address book fetch
	seen       bool     // found is set
	// gen counts our own circle changes (left, answered an invitation): a
	// fetch that started before one may still list the old state.
	gen  uint64
	byID map[CircleID]*circleEntry
	// loading marks circles whose member list is being fetched; again asks
	// for one more fetch after it.
	loading map[CircleID]bool
	again   map[CircleID]bool
}

// circleEntry is one known circle.
type circleEntry struct {
	info     Circle
	joined   bool                     // circle ADL done on circleSet.sess
	members  map[string]*CircleMember // by email; nil until loaded
	presence map[string]*circlePresence
	selfID   string // our contact id in the circle's address book
	// joinEcho: the circle NOT that answers our circle ADL is still to
	// come; it needs no re-read.
	joinEcho bool
}

type circlePresence struct {
	status       Status
	name         string
	psm          string
	capabilities string
	msnObject    string
}

// circleSession returns the circle state for work of session s, reset
// when s is a new session. Work left over from an earlier session (a
// background re-read finishing late) gets a throwaway state, so that it
// can change nothing. c.mu must be held.
func (c *Client) circleSession(s *session) *circleSet {
	cs := &c.circles
	if cs.byID == nil {
		cs.byID = make(map[CircleID]*circleEntry)
		cs.loading = make(map[CircleID]bool)
		cs.again = make(map[CircleID]bool)
	}
	if cs.sess != s && c.sess != s {
		return &circleSet{sess: s, byID: map[CircleID]*circleEntry{}, loading: map[CircleID]bool{}, again: map[CircleID]bool{}}
	}
	if cs.sess != s {
		cs.sess, cs.authed, cs.authFailed = s, false, false
		for _, e := range cs.byID {
			e.joined = false
			e.presence = nil
		}
	}
	return cs
}

// circleGen returns the generation of our own circle changes, to be
// taken before an address book fetch starts.
func (c *Client) circleGen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.circles.gen
}

// circleChanged records one of our own circle changes: address book reads
// that started before it are not used for circles.
func (c *Client) circleChanged() {
	c.mu.Lock()
	c.circles.gen++
	c.mu.Unlock()
}

// noteCircleResult records the circles and ticket of an address book
// fetch (called by fetchList). gen is circleGen from before the fetch: if
// we changed a circle since, the list may predate the change, so it is
// not used and another fetch is scheduled.
func (c *Client) noteCircleResult(s *session, book *abch.AddressBook, gen uint64) {
	if !s.d.circles {
		return
	}
	found := make([]Circle, 0, len(book.Circles))
	for _, ci := range book.Circles {
		id, err := ParseCircleID(ci.ID)
		if err != nil {
			c.log.Warn().Err(err).Msg("Skipping circle with an invalid id")
			continue
		}
		state := CircleState(ci.State)
		if state != CircleAccepted && state != CircleWaitingResponse {
			continue
		}
		info := Circle{ID: id, Name: circleName(ci.Name, id), Role: CircleRole(ci.Role), State: state}
		if inv, ok := book.CircleInvitation(string(id)); ok && state == CircleWaitingResponse {
			if email, err := checkEmail(inv.InviterEmail); err == nil {
				info.Inviter = email
			}
		}
		found = append(found, info)
	}
	c.mu.Lock()
	cs := c.circleSession(s)
	if book.CircleTicket != "" {
		cs.ticket = book.CircleTicket
	}
	stale := cs.gen != gen
	if !stale {
		cs.found, cs.seen = found, true
	}
	c.mu.Unlock()
	if stale {
		c.log.Debug().Msg("Address book read predates a circle change of ours; reading it again")
		c.scheduleRefresh(s)
	}
}

// forget drops a circle we left, from the known circles and from the
// latest address book fetch: syncCircles must not bring it back from a
// list read before we left (reads in flight are discarded by gen). Only a
// later read that lists it again (a new invitation) does. c.mu must be
// held.
func (cs *circleSet) forget(id CircleID) {
	delete(cs.byID, id)
	found := cs.found[:0:0]
	for _, info := range cs.found {
		if info.ID != id {
			found = append(found, info)
		}
	}
	cs.found = found
}

// circleName cleans a circle name for display: no control characters, and
// never empty.
func circleName(name string, id CircleID) string {
	name = cleanCircleName(name)
	if name == "" {
		return string(id)
	}
	return name
}

// cleanCircleName turns control characters (CR, LF…) into spaces and
// collapses runs of white space.
func cleanCircleName(name string) string {
	return strings.Join(strings.Fields(msnp.CleanText(name)), " ")
}

// syncCircles brings the joined circles in line with the latest address
// book fetch: it joins new accepted circles (authenticating first),
// reports invitations, renames and circles that are gone. Errors are
// reported as CircleJoinFailed events; contacts are not affected.
func (c *Client) syncCircles(ctx context.Context, s *session) {
	if !s.d.circles {
		return
	}
	c.circleSync.Lock()
	defer c.circleSync.Unlock()
	var events []any
	var join []CircleID
	c.mu.Lock()
	cs := c.circleSession(s)
	if !cs.seen {
		c.mu.Unlock()
		return
	}
	present := make(map[CircleID]bool, len(cs.found))
	for _, info := range cs.found {
		present[info.ID] = true
		e := cs.byID[info.ID]
		if e != nil {
			info.PSM = e.info.PSM // not in the address book: from NFY props
		}
		switch {
		case e == nil && info.State == CircleWaitingResponse:
			cs.byID[info.ID] = &circleEntry{info: info}
			events = append(events, &CircleInvitation{Circle: info, Inviter: info.Inviter})
		case e == nil:
			cs.byID[info.ID] = &circleEntry{info: info}
			join = append(join, info.ID)
		case info.State == CircleAccepted && (!e.joined || e.info.State != CircleAccepted):
			e.info = info
			join = append(join, info.ID)
		case e.info != info:
			e.info = info
			events = append(events, &CircleUpdated{Circle: info})
		}
	}
	for id := range cs.byID {
		if !present[id] {
			delete(cs.byID, id)
			events = append(events, &CircleRemoved{ID: id})
		}
	}
	c.mu.Unlock()
	for _, evt := range events {
		s.emit(evt)
	}
	if len(join) == 0 {
		return
	}
	sort.Slice(join, func(i, j int) bool { return join[i] < join[j] })
	if err := c.joinCircles(ctx, s, join); err != nil {
		c.log.Warn().Err(err).Msg("Could not join circles")
		if errors.Is(err, ErrCircleTicketRejected) {
			c.mu.Lock()
			cs := c.circleSession(s)
			report := !cs.authFailed
			cs.authFailed = true
			c.mu.Unlock()
			if report {
				s.emit(&CircleJoinFailed{Err: err})
			}
		}
	}
}

// authenticateCircles sends USR SHA with the circle ticket. On 911 it
// fetches a fresh ticket and tries once more.
func (c *Client) authenticateCircles(ctx context.Context, s *session) error {
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		cs := c.circleSession(s)
		ticket, authed := cs.ticket, cs.authed
		c.mu.Unlock()
		if authed {
			return nil
		}
		if ticket == "" {
			return fmt.Errorf("%w: the address book has no circle ticket", ErrCircleTicketRejected)
		}
		b64 := base64.StdEncoding.EncodeToString([]byte(ticket))
		_, err := s.conn.request(ctx, msnp.New("USR", "SHA", "A", b64))
		if err == nil {
			c.mu.Lock()
			c.circleSession(s).authed = true
			c.mu.Unlock()
			return nil
		}
		if !errors.Is(err, &msnp.ServerError{Code: 911}) {
			return fmt.Errorf("circle authentication: %w", err)
		}
		if attempt > 0 {
			return fmt.Errorf("%w (after fetching a fresh one): %w", ErrCircleTicketRejected, err)
		}
		c.log.Info().Msg("Circle ticket rejected (911); fetching a fresh one")
		if err := c.refetchCircleTicket(ctx, s); err != nil {
			return fmt.Errorf("%w; fetching a fresh ticket: %w", ErrCircleTicketRejected, err)
		}
	}
}

// refetchCircleTicket reads the address book again for a fresh ticket.
func (c *Client) refetchCircleTicket(ctx context.Context, s *session) error {
	ab, err := c.abClient(s)
	if err != nil {
		return err
	}
	gen := c.circleGen()
	book, err := ab.ABFindContactsPaged(ctx)
	if err != nil {
		return err
	}
	c.noteCircleResult(s, book, gen)
	return nil
}

// joinCircles authenticates if needed, loads each circle's members,
// announces it (CircleJoined) and joins it: circle ADL, then PUT roster.
func (c *Client) joinCircles(ctx context.Context, s *session, ids []CircleID) error {
	if err := c.authenticateCircles(ctx, s); err != nil {
		return err
	}
	// The member lists are read a few at a time; the circles are then
	// announced in id order.
	lists := make([][]CircleMember, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, circleFetchParallel)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			members, err := c.fetchCircleMembers(ctx, s, id)
			if err != nil {
				c.log.Warn().Err(err).Str("circle", string(id)).Msg("Could not read the circle's members")
			}
			lists[i] = members
		}()
	}
	wg.Wait()
	var ready []CircleID
	for i, id := range ids {
		members := lists[i]
		c.mu.Lock()
		e := c.circleSession(s).byID[id]
		if e == nil || e.info.State != CircleAccepted {
			c.mu.Unlock()
			continue
		}
		e.joined, e.joinEcho = true, true
		info := e.info
		c.mu.Unlock()
		s.emit(&CircleJoined{Circle: info, Members: members})
		ready = append(ready, id)
	}
	if len(ready) == 0 {
		return nil
	}
	entries := make([]mlEntry, 0, len(ready))
	for _, id := range ready {
		entries = append(entries, mlEntry{Email: string(id) + "@live.com", Lists: ListForward, Network: NetworkCircle})
	}
	var errs []error
	for _, payload := range buildML(entries, false) {
		if _, err := s.conn.request(ctx, msnp.NewPayload("ADL", payload)); err != nil {
			errs = append(errs, fmt.Errorf("circle ADL: %w", err))
		}
	}
	var failed []*CircleJoinFailed
	for _, err := range errs {
		failed = append(failed, &CircleJoinFailed{Err: err})
	}
	for _, id := range ready {
		if _, err := s.conn.request(ctx, msnp.NewPayload("PUT", c.rosterPut(id))); err != nil {
			err = fmt.Errorf("circle %s: PUT roster: %w", id, err)
			errs = append(errs, err)
			failed = append(failed, &CircleJoinFailed{ID: id, Err: err})
		}
	}
	// The server answers in order: a circle NOT answering the ADL has
	// been handled by now. Later ones are real changes.
	c.mu.Lock()
	for _, id := range ready {
		if e := c.circleSession(s).byID[id]; e != nil {
			e.joinEcho = false
		}
	}
	c.mu.Unlock()
	for _, f := range failed {
		s.emit(f)
	}
	return errors.Join(errs...)
}

// fetchCircleMembers reads a circle's address book, stores it (with our
// own contact id there) and returns the members.
func (c *Client) fetchCircleMembers(ctx context.Context, s *session, id CircleID) ([]CircleMember, error) {
	ab, err := c.abClient(s)
	if err != nil {
		return nil, err
	}
	list, err := ab.ABFindCircle(ctx, string(id))
	if err != nil {
		return nil, fmt.Errorf("circle %s members: %w", id, err)
	}
	me := c.Email()
	members := make(map[string]*CircleMember, len(list))
	var selfID string
	for _, m := range list {
		email, err := checkEmail(m.Email)
		if err != nil {
			continue
		}
		if email == me || m.Type == abch.ContactMe {
			if email == me {
				selfID = m.ContactID
			}
			continue
		}
		name := strings.TrimSpace(msnp.CleanText(m.DisplayName))
		if name == "" {
			name = email
		}
		members[email] = &CircleMember{Email: email, Name: name, Role: CircleRole(m.Role), State: CircleState(m.State), Status: StatusOffline}
	}
	c.mu.Lock()
	e := c.circleSession(s).byID[id]
	if e != nil {
		e.members = members
		if selfID != "" {
			e.selfID = selfID
		}
	}
	out := e.memberList()
	c.mu.Unlock()
	return out, nil
}

// memberList returns the members with their presence, sorted by email.
// c.mu must be held.
func (e *circleEntry) memberList() []CircleMember {
	if e == nil {
		return nil
	}
	out := make([]CircleMember, 0, len(e.members))
	for email, m := range e.members {
		mm := *m
		mm.Status = StatusOffline
		if p := e.presence[email]; p != nil {
			mm.Status = p.status
		}
		out = append(out, mm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Email < out[j].Email })
	return out
}

// refreshCircleMembers re-reads a circle's members in the background and
// reports who joined or left. Requests during a fetch cause one more.
func (c *Client) refreshCircleMembers(s *session, id CircleID) {
	c.mu.Lock()
	cs := c.circleSession(s)
	if cs.loading[id] {
		cs.again[id] = true
		c.mu.Unlock()
		return
	}
	cs.loading[id] = true
	c.mu.Unlock()
	go func() {
		for {
			c.reloadCircleMembers(s, id)
			c.mu.Lock()
			cs := c.circleSession(s)
			if !cs.again[id] || s.isEnded() {
				delete(cs.loading, id)
				delete(cs.again, id)
				c.mu.Unlock()
				return
			}
			delete(cs.again, id)
			c.mu.Unlock()
		}
	}()
}

// reloadCircleMembers fetches a joined circle's members and emits the
// differences with what was known.
func (c *Client) reloadCircleMembers(s *session, id CircleID) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.cfg.RequestTimeout)
	defer cancel()
	defer c.releaseHTTP()
	c.mu.Lock()
	e := c.circleSession(s).byID[id]
	if e == nil || !e.joined {
		c.mu.Unlock()
		return
	}
	old := make(map[string]CircleState, len(e.members))
	for email, m := range e.members {
		old[email] = m.State
	}
	c.mu.Unlock()
	members, err := c.fetchCircleMembers(ctx, s, id)
	if err != nil {
		c.log.Warn().Err(err).Str("circle", string(id)).Msg("Could not re-read the circle's members")
		return
	}
	now := make(map[string]bool, len(members))
	for _, m := range members {
		if m.State != CircleAccepted {
			continue
		}
		now[m.Email] = true
		if old[m.Email] != CircleAccepted {
			s.emit(&CircleMemberJoined{ID: id, Email: m.Email})
		}
	}
	var left []string
	for email, st := range old {
		if st == CircleAccepted && !now[email] {
			left = append(left, email)
		}
	}
	sort.Strings(left)
	for _, email := range left {
		s.emit(&CircleMemberLeft{ID: id, Email: email})
	}
}

// circleOp returns the session for a circle method: ErrCirclesUnsupported
// below MSNP18.
func (c *Client) circleOp() (*session, error) {
	s, err := c.connected()
	if err != nil {
		return nil, err
	}
	if !s.d.circles {
		return nil, ErrCirclesUnsupported
	}
	return s, nil
}

// circleEntryFor returns a copy of the circle's info, with whether it is
// joined, or ErrUnknownCircle.
func (c *Client) circleEntryFor(s *session, id CircleID) (Circle, bool, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.circleSession(s).byID[id]
	if e == nil {
		return Circle{}, false, "", fmt.Errorf("%w: %s", ErrUnknownCircle, id)
	}
	return e.info, e.joined, e.selfID, nil
}

func (c *Client) circleList() []Circle {
	c.mu.Lock()
	defer c.mu.Unlock()
	if d := c.dia; d == nil || !d.circles {
		return nil
	}
	out := make([]Circle, 0, len(c.circles.byID))
	for _, e := range c.circles.byID {
		out = append(out, e.info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (c *Client) circleByID(id CircleID) (Circle, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.circles.byID[id]; e != nil {
		return e.info, true
	}
	return Circle{}, false
}

func (c *Client) circleMembers(ctx context.Context, id CircleID) ([]CircleMember, error) {
	s, err := c.circleOp()
	if err != nil {
		return nil, err
	}
	if _, _, _, err := c.circleEntryFor(s, id); err != nil {
		return nil, err
	}
	defer c.releaseHTTP()
	return c.fetchCircleMembers(ctx, s, id)
}

func (c *Client) createCircle(ctx context.Context, name string, invite []string) (Circle, error) {
	s, err := c.circleOp()
	if err != nil {
		return Circle{}, err
	}
	clean := cleanCircleName(name)
	if clean == "" {
		return Circle{}, errors.New("msn: empty circle name")
	}
	emails := make([]string, 0, len(invite))
	for _, e := range invite {
		email, err := checkEmail(e)
		if err != nil {
			return Circle{}, err
		}
		emails = append(emails, email)
	}
	ab, err := c.abClient(s)
	if err != nil {
		return Circle{}, err
	}
	defer c.releaseHTTP()
	c.mu.Lock()
	publicName := c.own.friendlyName
	c.mu.Unlock()
	raw, err := ab.CreateCircle(ctx, clean, publicName)
	if err != nil {
		return Circle{}, fmt.Errorf("create circle: %w", err)
	}
	id, err := ParseCircleID(raw)
	if err != nil {
		return Circle{}, err
	}
	c.circleChanged() // reads in flight do not list it yet
	// The new circle comes with the address book: fetch it and join.
	if err := c.refreshListCtx(ctx, s); err != nil {
		return Circle{}, fmt.Errorf("circle %s created, but reading the address book failed: %w", id, err)
	}
	circle, joined, _, err := c.circleEntryFor(s, id)
	if err != nil {
		return Circle{ID: id, Name: clean, Role: CircleRoleAdmin, State: CircleAccepted}, fmt.Errorf("circle %s created but not listed by the server: %w", id, err)
	}
	if !joined {
		return circle, fmt.Errorf("circle %s created but could not be joined", id)
	}
	var errs []error
	for _, email := range emails {
		if err := c.inviteToCircle(ctx, id, email, ""); err != nil {
			errs = append(errs, fmt.Errorf("invite %s: %w", email, err))
		}
	}
	return circle, errors.Join(errs...)
}

func (c *Client) inviteToCircle(ctx context.Context, id CircleID, email, message string) error {
	s, err := c.circleOp()
	if err != nil {
		return err
	}
	email, err = checkEmail(email)
	if err != nil {
		return err
	}
	info, _, _, err := c.circleEntryFor(s, id)
	if err != nil {
		return err
	}
	if info.State != CircleAccepted || !info.Role.CanInvite() {
		return fmt.Errorf("%w: only a circle's administrators may invite (our role: %s)", ErrCircleNotAllowed, info.Role)
	}
	ab, err := c.abClient(s)
	if err != nil {
		return err
	}
	defer c.releaseHTTP()
	contactID, err := ab.CreateCircleContact(ctx, string(id), email)
	if err != nil {
		if abch.IsFault(err, abch.FaultForbidden) {
			return fmt.Errorf("%w: %w", ErrCircleNotAllowed, err)
		}
		return fmt.Errorf("invite %s to circle: %w", email, err)
	}
	if err := ab.InviteToCircle(ctx, string(id), contactID, msnp.CleanText(message)); err != nil {
		if abch.IsFault(err, abch.FaultForbidden) {
			return fmt.Errorf("%w: %w", ErrCircleNotAllowed, err)
		}
		return fmt.Errorf("invite %s to circle: %w", email, err)
	}
	return nil
}

func (c *Client) answerCircleInvitation(ctx context.Context, id CircleID, accept bool) error {
	s, err := c.circleOp()
	if err != nil {
		return err
	}
	info, _, _, err := c.circleEntryFor(s, id)
	if err != nil {
		return err
	}
	if info.State != CircleWaitingResponse {
		return fmt.Errorf("msn: circle %s has no pending invitation", id)
	}
	ab, err := c.abClient(s)
	if err != nil {
		return err
	}
	defer c.releaseHTTP()
	if err := ab.AnswerCircleInvitation(ctx, string(id), accept); err != nil {
		return fmt.Errorf("answer circle invitation: %w", err)
	}
	c.circleChanged()
	return c.refreshListCtx(ctx, s)
}

func (c *Client) leaveCircle(ctx context.Context, id CircleID) error {
	s, err := c.circleOp()
	if err != nil {
		return err
	}
	info, joined, selfID, err := c.circleEntryFor(s, id)
	if err != nil {
		return err
	}
	if info.State != CircleAccepted {
		return fmt.Errorf("msn: circle %s is an invitation: decline it instead", id)
	}
	if selfID == "" {
		if _, err := c.fetchCircleMembers(ctx, s, id); err != nil {
			return err
		}
		if _, _, selfID, _ = c.circleEntryFor(s, id); selfID == "" {
			return fmt.Errorf("msn: circle %s does not list us", id)
		}
	}
	ab, err := c.abClient(s)
	if err != nil {
		return err
	}
	defer c.releaseHTTP()
	c.circleChanged() // from now on, a read may or may not list it
	if err := ab.LeaveCircle(ctx, string(id), selfID); err != nil {
		return fmt.Errorf("leave circle: %w", err)
	}
	c.mu.Lock()
	cs := c.circleSession(s)
	_, known := cs.byID[id]
	cs.forget(id)
	cs.gen++ // an address book read in flight may still list it
	c.mu.Unlock()
	if joined {
		payload := buildML([]mlEntry{{Email: string(id) + "@live.com", Lists: ListForward, Network: NetworkCircle}}, false)
		if _, err := s.conn.request(ctx, msnp.NewPayload("RML", payload[0])); err != nil {
			c.log.Debug().Err(err).Msg("Circle RML after leaving failed")
		}
	}
	if known {
		s.emit(&CircleRemoved{ID: id})
	}
	return nil
}
