package msnclient

import (
	"context"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/abch"
	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// MSNP13+: the list lives in the address book (ABCH) and sharing services;
// the notification server learns it through ADL/RML.

// abOps implements listOps with the SOAP services and ADL/RML.
type abOps struct {
	c *Client
	s *session
}

// abClient returns a SOAP client for the session (cheap: it shares
// Client.http()).
func (c *Client) abClient(s *session) (*abch.Client, error) {
	hc, err := c.http()
	if err != nil {
		return nil, err
	}
	ab, err := abch.New(abch.Config{
		HTTPClient:        hc,
		ABServiceURL:      c.cfg.ABServiceURL,
		SharingServiceURL: c.cfg.SharingServiceURL,
		Ticket:            s.contactsTicket,
		MSPAuthCookie:     s.d.auth == authTweener,
	})
	if err != nil {
		return nil, fmt.Errorf("address book client: %w", err)
	}
	return ab, nil
}

// contactsTicket returns the ticket for the address book services.
func (s *session) contactsTicket() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.abTicket
}

// fetchList reads the whole list from the SOAP services.
func (c *Client) fetchList(ctx context.Context, s *session) (map[string]*listEntry, []Group, string, error) {
	ab, err := c.abClient(s)
	if err != nil {
		return nil, nil, "", err
	}
	members, err := ab.FindMembership(ctx)
	if err != nil {
		return nil, nil, "", err
	}
	var book *abch.AddressBook
	circleGen := c.circleGen()
	if s.d.abPaged {
		book, err = ab.ABFindContactsPaged(ctx)
	} else {
		book, err = ab.ABFindAll(ctx)
	}
	if err != nil {
		return nil, nil, "", err
	}
	c.noteCircleResult(s, book, circleGen) // ns_circles.go
	contacts := make(map[string]*listEntry)
	get := func(email string) *listEntry {
		email, err := checkEmail(email)
		if err != nil || email == c.Email() {
			return nil
		}
		ct := contacts[email]
		if ct == nil {
			ct = &listEntry{Email: email, Network: NetworkMSN, FriendlyName: email}
			contacts[email] = ct
		}
		return ct
	}
	for _, e := range book.Contacts {
		if e.Type == abch.ContactCircle || e.Type == abch.ContactMe {
			continue
		}
		ct := get(e.Email)
		if ct == nil {
			continue
		}
		ct.Lists |= ListForward
		ct.ContactID = e.ID
		ct.Groups = append([]string(nil), e.GroupIDs...)
		if name := strings.TrimSpace(e.DisplayName); name != "" {
			ct.FriendlyName = msnp.CleanText(name)
		}
	}
	for _, m := range members.Members {
		bit := roleList(m.Role)
		if bit == 0 || m.Email == "" {
			continue
		}
		if ct := get(m.Email); ct != nil {
			ct.Lists |= bit
			if m.DisplayName != "" && ct.FriendlyName == ct.Email {
				ct.FriendlyName = msnp.CleanText(m.DisplayName)
			}
		}
	}
	groups := make([]Group, 0, len(book.Groups))
	for _, g := range book.Groups {
		groups = append(groups, Group{ID: g.ID, Name: msnp.CleanText(g.Name)})
	}
	var me string
	if book.Me != nil {
		me = msnp.CleanText(book.Me.DisplayName)
	}
	return packEntries(contacts), groups, me, nil
}

// packEntries moves the entries of a freshly loaded list into one
// allocation. They live as long as the session: one block leaves fewer
// part-filled heap spans behind than a small object per contact made
// among the garbage of the sign-in.
func packEntries(contacts map[string]*listEntry) map[string]*listEntry {
	block := make([]listEntry, len(contacts))
	out := make(map[string]*listEntry, len(contacts))
	i := 0
	for email, ct := range contacts {
		block[i] = *ct
		out[email] = &block[i]
		i++
	}
	return out
}

// load fetches the list and sends the initial ADL.
func (o *abOps) load(ctx context.Context) error {
	c, s := o.c, o.s
	contacts, groups, me, err := c.fetchList(ctx, s)
	if err != nil {
		return err
	}
	var entries []mlEntry
	for _, ct := range contacts {
		if l := ct.Lists & (ListForward | ListAllow | ListBlock); l != 0 {
			entries = append(entries, mlEntry{Email: ct.Email, Lists: l, Network: ct.Network})
		}
	}
	c.mu.Lock()
	c.list.replace(contacts, groups)
	if me != "" {
		c.own.friendlyName = me
	}
	c.mu.Unlock()
	for _, payload := range buildML(entries, true) {
		if _, err := s.conn.request(ctx, msnp.NewPayload("ADL", payload)); err != nil {
			return fmt.Errorf("initial ADL: %w", err)
		}
	}
	c.syncCircles(ctx, s) // MSNP18: join the circles, after the initial ADL
	return nil
}

// ml sends ADL or RML for one contact on network (0: as known, else MSN)
// and records the change locally.
func (o *abOps) ml(ctx context.Context, name, email string, lists Lists, network Network) error {
	if network == 0 {
		network = NetworkMSN
		o.c.mu.Lock()
		if ct := o.c.list.get(email, false); ct != nil && ct.Network != 0 {
			network = ct.Network
		}
		o.c.mu.Unlock()
	}
	payloads := buildML([]mlEntry{{Email: email, Lists: lists, Network: network}}, false)
	if _, err := o.s.conn.request(ctx, msnp.NewPayload(name, payloads[0])); err != nil {
		return err
	}
	o.c.mu.Lock()
	defer o.c.mu.Unlock()
	if name == "ADL" {
		o.c.list.setLists(email, lists, 0)
		o.c.list.get(email, false).Network = network
	} else {
		o.c.list.setLists(email, 0, lists)
	}
	return nil
}

// queryNetwork asks the server which network email is on (FQY, MSNP14+).
func (o *abOps) queryNetwork(ctx context.Context, email string) (Network, error) {
	local, domain, _ := strings.Cut(email, "@")
	payload := fmt.Sprintf(`<ml><d n="%s"><c n="%s" /></d></ml>`, xmlsafe.EscapeLossy(domain), xmlsafe.EscapeLossy(local))
	reply, err := o.s.conn.request(ctx, msnp.NewPayload("FQY", []byte(payload)))
	if err != nil {
		return 0, err
	}
	entries, err := parseML(reply.Payload)
	if err != nil || len(entries) == 0 {
		return NetworkMSN, nil //nolint:nilerr // no usable answer: assume MSN
	}
	return entries[0].Network, nil
}

func (o *abOps) add(ctx context.Context, email string) error {
	ab, err := o.c.abClient(o.s)
	if err != nil {
		return err
	}
	network := NetworkMSN
	if o.s.d.fqy {
		if network, err = o.queryNetwork(ctx, email); err != nil {
			return fmt.Errorf("FQY: %w", err)
		}
	}
	id, err := ab.ABContactAdd(ctx, email)
	if err != nil && !abch.IsFault(err, abch.FaultContactExists) {
		return err
	}
	if o.c.lists(email)&ListBlock != 0 {
		if err := o.ml(ctx, "RML", email, ListBlock, network); err != nil {
			return err
		}
	}
	if err := o.ml(ctx, "ADL", email, ListForward|ListAllow, network); err != nil {
		return err
	}
	if id != "" {
		o.c.mu.Lock()
		if ct := o.c.list.get(email, false); ct != nil {
			ct.ContactID = id
		}
		o.c.mu.Unlock()
	}
	return nil
}

func (o *abOps) remove(ctx context.Context, email string) error {
	o.c.mu.Lock()
	var id string
	if ct := o.c.list.get(email, false); ct != nil {
		id = ct.ContactID
	}
	o.c.mu.Unlock()
	if id != "" {
		ab, err := o.c.abClient(o.s)
		if err != nil {
			return err
		}
		if err := ab.ABContactDelete(ctx, id); err != nil && !abch.IsFault(err, abch.FaultContactDoesNotExist) {
			return err
		}
	}
	return o.ml(ctx, "RML", email, ListForward, 0)
}

// deleteMembership removes email from a sharing-service role if
// FindMembership lists it there, by its MembershipId (Escargot identifies
// members to delete only by it). Not being a member is fine.
func deleteMembership(ctx context.Context, ab *abch.Client, role abch.Role, email string) error {
	members, err := ab.FindMembership(ctx)
	if err != nil {
		return fmt.Errorf("delete %s membership: %w", role, err)
	}
	for _, m := range members.Role(role) {
		if !strings.EqualFold(m.Email, email) {
			continue
		}
		err := ab.DeleteMember(ctx, role, email, m.MembershipID)
		if err != nil && !abch.IsFault(err, abch.FaultMemberDoesNotExist) {
			return fmt.Errorf("delete %s membership: %w", role, err)
		}
		return nil
	}
	return nil
}

// addMembership puts email into a sharing-service role, ignoring "already a
// member" (Escargot accepts duplicates silently; Microsoft answered with a
// MemberAlreadyExists fault).
func addMembership(ctx context.Context, ab *abch.Client, role abch.Role, email string) error {
	err := ab.AddMember(ctx, role, email)
	if err != nil && !abch.IsFault(err, abch.FaultMemberAlreadyExists) {
		return fmt.Errorf("add %s membership: %w", role, err)
	}
	return nil
}

// moveMembership moves email from one role to another as WLM does with the
// sharing service (AddMember to, DeleteMember from), then tells the NS
// session (RML from, ADL to). Adding first means a failure leaves the
// contact where it was rather than on neither list.
func (o *abOps) moveMembership(ctx context.Context, email string, from, to abch.Role) error {
	ab, err := o.c.abClient(o.s)
	if err != nil {
		return err
	}
	if err := addMembership(ctx, ab, to, email); err != nil {
		return err
	}
	if err := deleteMembership(ctx, ab, from, email); err != nil {
		return err
	}
	if err := o.ml(ctx, "RML", email, roleList(from), 0); err != nil {
		return err
	}
	return o.ml(ctx, "ADL", email, roleList(to), 0)
}

// roleList is the list bit of a membership role.
func roleList(r abch.Role) Lists {
	switch r {
	case abch.RoleAllow:
		return ListAllow
	case abch.RoleBlock:
		return ListBlock
	case abch.RoleReverse:
		return ListReverse
	case abch.RolePending:
		return ListPending
	}
	return 0
}

func (o *abOps) block(ctx context.Context, email string) error {
	return o.moveMembership(ctx, email, abch.RoleAllow, abch.RoleBlock)
}

func (o *abOps) unblock(ctx context.Context, email string) error {
	return o.moveMembership(ctx, email, abch.RoleBlock, abch.RoleAllow)
}

func (o *abOps) accept(ctx context.Context, email string) error {
	// Clearing the Pending membership is what answers the request; the
	// local list may not know of the request yet (refetch in flight).
	ab, err := o.c.abClient(o.s)
	if err != nil {
		return err
	}
	if err := deleteMembership(ctx, ab, abch.RolePending, email); err != nil {
		return err
	}
	o.c.changeLists(email, 0, ListPending)
	return o.add(ctx, email)
}

// handleServerML handles a server-initiated "ADL 0 len" / "RML 0 len":
// someone added or removed us, or another endpoint changed our list.
func (c *Client) handleServerML(s *session, cmd *msnp.Command) {
	if !cmd.HasPayload {
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring late ADL/RML reply")
		return
	}
	entries, err := parseML(cmd.Payload)
	if err != nil {
		c.log.Warn().Err(err).Str("cmd", cmd.Redacted()).Msg("Skipping malformed ADL/RML payload")
		return
	}
	for _, e := range entries {
		if e.Email == c.Email() || e.Lists == 0 {
			continue
		}
		if cmd.Name == "RML" {
			c.changeLists(e.Email, 0, e.Lists)
			s.emit(&ContactListChanged{})
			continue
		}
		c.reverseAdded(s, e.Email, e.FriendlyName, e.Lists)
	}
	if s.d.addressBook {
		c.scheduleRefresh(s)
	}
}

// handleNOT refetches the list when the address book changed (MSNP13+; in
// older dialects the server pushes changes as ADD/ADC/REM).
func (c *Client) handleNOT(s *session, cmd *msnp.Command) {
	ok, err := isAddressBookNotification(cmd.Payload)
	if err != nil {
		c.log.Warn().Err(err).Msg("Skipping malformed NOT payload")
		return
	}
	if ok && s.d.addressBook && !c.handleCircleNOT(s, cmd.Payload) {
		c.scheduleRefresh(s)
	}
}

// scheduleRefresh refetches the list in the background; requests arriving
// during a refetch cause one more.
func (c *Client) scheduleRefresh(s *session) {
	s.mu.Lock()
	if s.refreshing {
		s.refreshAgain = true
		s.mu.Unlock()
		return
	}
	s.refreshing = true
	s.mu.Unlock()
	go func() {
		for {
			c.refreshList(s)
			s.mu.Lock()
			if !s.refreshAgain || s.ended {
				s.refreshing = false
				s.mu.Unlock()
				return
			}
			s.refreshAgain = false
			s.mu.Unlock()
		}
	}()
}

// refreshList refetches the list and reports changes.
func (c *Client) refreshList(s *session) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*c.cfg.RequestTimeout)
	defer cancel()
	if err := c.refreshListCtx(ctx, s); err != nil {
		c.log.Warn().Err(err).Msg("Failed to refetch the address book")
	}
}

// refreshListCtx refetches the list within ctx and reports changes.
func (c *Client) refreshListCtx(ctx context.Context, s *session) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.releaseHTTP()
	go func() {
		select {
		case <-s.conn.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	var contacts map[string]*listEntry
	var groups []Group
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		gen := c.list.gen
		c.mu.Unlock()
		var err error
		contacts, groups, _, err = c.fetchList(ctx, s)
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.list.gen == gen || attempt >= 3 {
			break // c.mu stays locked
		}
		c.mu.Unlock() // changed locally meanwhile: the fetch may be stale
	}
	changed := !sameLists(c.list.contacts, contacts) || groupsChanged(c.list.groups, groups, c.list.contacts, contacts)
	c.list.replace(contacts, groups)
	c.mu.Unlock()
	if changed {
		s.emit(&ContactListChanged{})
	}
	c.emitPendingRequests()
	c.syncCircles(ctx, s)
	return nil
}

// sameLists reports whether two lists have the same contacts on the same lists.
func sameLists(a, b map[string]*listEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for email, ct := range a {
		other := b[email]
		if other == nil || normalizeLists(other.Lists) != ct.Lists || other.FriendlyName != ct.FriendlyName {
			return false
		}
	}
	return true
}
