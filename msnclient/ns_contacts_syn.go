package msnclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// MSNP8-12: the notification server holds the list (SYN, LST, ADD/ADC, REM).

// synState counts the LST lines of a SYN in progress.
type synState struct {
	mu       sync.Mutex
	expected int // -1 until the SYN reply was read
	got      int
	done     chan struct{}
	closed   bool
}

func (st *synState) check() {
	if !st.closed && st.expected >= 0 && st.got >= st.expected {
		st.closed = true
		close(st.done)
	}
}

// synOps implements listOps with SYN-era commands.
type synOps struct {
	c *Client
	s *session
}

// load sends SYN and waits until every announced LST line was read.
func (o *synOps) load(ctx context.Context) error {
	c, s := o.c, o.s
	st := &synState{expected: -1, done: make(chan struct{})}
	c.mu.Lock()
	c.list.replace(make(map[string]*listEntry), nil)
	s.syn = st
	c.mu.Unlock()

	reply, err := s.conn.request(ctx, msnp.New("SYN", s.d.synArgs...))
	if err != nil {
		return err
	}
	// 8-9: SYN t ser contacts groups; 10-12: SYN t time time contacts groups.
	n := -1
	if len(reply.Args) >= 3 {
		n, err = strconv.Atoi(reply.Args[len(reply.Args)-2])
	}
	if err != nil || n < 0 {
		// A server whose list is unchanged answers "SYN t ser" alone.
		n = 0
	}
	st.mu.Lock()
	st.expected = n
	st.check()
	st.mu.Unlock()
	select {
	case <-st.done:
	case <-ctx.Done():
		return fmt.Errorf("wait for contact list: %w", ctx.Err())
	case <-s.conn.done:
		return fmt.Errorf("wait for contact list: %w", s.conn.closedErr())
	}
	c.mu.Lock()
	s.syn = nil
	c.mu.Unlock()
	return nil
}

// handleSYNLine processes list lines during SYN and server-pushed list
// changes (someone added or removed us).
func (c *Client) handleSYNLine(s *session, cmd *msnp.Command) {
	switch cmd.Name {
	case "LST":
		c.handleLST(s, cmd)
	case "LSG":
		c.handleLSG(s, cmd)
	case "PRP":
		// "PRP MFN name" during SYN (MSNP10+): our own friendly name.
		for i := 0; i+1 < len(cmd.Args); i++ {
			if cmd.Args[i] == "MFN" {
				c.mu.Lock()
				c.own.friendlyName = decodeName(cmd.Args[i+1])
				c.mu.Unlock()
			}
		}
	case "ADD", "ADC", "REM":
		if cmd.Arg(0) == "0" && cmd.Arg(1) == "RL" {
			c.handleReverseChange(s, cmd)
			return
		}
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring list change")
	default: // BPR, BLP, GTC, late SYN replies
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring list property")
	}
}

// handleLST reads one contact of the SYN list.
func (c *Client) handleLST(s *session, cmd *msnp.Command) {
	ct, err := parseLST(s.d, cmd.Args)
	c.mu.Lock()
	if err != nil {
		c.log.Warn().Err(err).Str("cmd", cmd.Redacted()).Msg("Skipping malformed LST")
	} else if ct.Lists != 0 {
		ct.Lists = normalizeLists(ct.Lists)
		c.list.contacts[ct.Email] = ct
	}
	st := s.syn
	c.mu.Unlock()
	if st != nil {
		st.mu.Lock()
		st.got++
		st.check()
		st.mu.Unlock()
	}
}

// parseLST parses "LST email name lists [groups]" (MSNP8-9) or
// "LST N=email F=name C=guid lists [1] [groups]" (MSNP10-12).
func parseLST(d *dialect, args []string) (*listEntry, error) {
	ct := &listEntry{Network: NetworkMSN}
	rest := args
	if !d.contactGUIDs {
		if len(args) < 3 {
			return nil, errors.New("too few fields")
		}
		ct.Email, ct.FriendlyName = args[0], decodeName(args[1])
		rest = args[2:]
	} else {
		for len(rest) > 0 && len(rest[0]) > 2 && rest[0][1] == '=' {
			k, v := rest[0][0], rest[0][2:]
			switch k {
			case 'N':
				ct.Email = v
			case 'F':
				ct.FriendlyName = decodeName(v)
			case 'C':
				ct.ContactID = v
			}
			rest = rest[1:]
		}
	}
	if len(rest) == 0 {
		return nil, errors.New("no list bits")
	}
	bits, err := strconv.Atoi(rest[0])
	if err != nil || bits < 0 || bits > 0xff {
		return nil, fmt.Errorf("bad list bits %q", rest[0])
	}
	ct.Lists = Lists(bits)
	rest = rest[1:]
	if d.lstNetworkField && len(rest) > 0 {
		rest = rest[1:]
	}
	if len(rest) > 0 && rest[0] != "" {
		ct.Groups = strings.Split(rest[0], ",")
	}
	email, err := checkEmail(ct.Email)
	if err != nil {
		return nil, err
	}
	ct.Email = email
	if ct.FriendlyName == "" {
		ct.FriendlyName = email
	}
	return ct, nil
}

// handleLSG reads one group: "LSG id name 0" (MSNP8-9) or "LSG name guid"
// (MSNP10-12).
func (c *Client) handleLSG(s *session, cmd *msnp.Command) {
	var g Group
	if s.d.contactGUIDs {
		g = Group{Name: decodeName(cmd.Arg(0)), ID: cmd.Arg(1)}
	} else {
		g = Group{ID: cmd.Arg(0), Name: decodeName(cmd.Arg(1))}
	}
	if g.ID == "" {
		c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed LSG")
		return
	}
	c.mu.Lock()
	c.list.groups = append(c.list.groups, g)
	c.mu.Unlock()
}

// handleReverseChange handles "ADD 0 RL ser email name", "ADC 0 RL N=email
// F=name" (someone added us) and "REM 0 RL [ser] email" (removed us).
func (c *Client) handleReverseChange(s *session, cmd *msnp.Command) {
	var email, name string
	for _, a := range cmd.Args[2:] {
		switch {
		case strings.HasPrefix(a, "N="):
			email = a[2:]
		case strings.HasPrefix(a, "F="):
			name = decodeName(a[2:])
		case email == "" && strings.Contains(a, "@"):
			email = a
		case email != "" && name == "":
			name = decodeName(a)
		}
	}
	email, err := checkEmail(email)
	if err != nil {
		c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed reverse-list change")
		return
	}
	if cmd.Name == "REM" {
		c.changeLists(email, 0, ListReverse|ListPending)
		s.emit(&ContactListChanged{})
		return
	}
	add := ListReverse
	if s.d.pendingList {
		add |= ListPending
	}
	c.reverseAdded(s, email, name, add)
}

// reverseAdded records that email added us and emits the events.
func (c *Client) reverseAdded(s *session, email, name string, add Lists) {
	c.mu.Lock()
	c.list.setLists(email, add, 0)
	ct := c.list.get(email, false)
	if name != "" && ct.FriendlyName == ct.Email {
		ct.FriendlyName = name
	}
	var req *ContactRequest
	if isRequest(ct) && !c.list.requested[email] {
		c.list.requested[email] = true
		req = &ContactRequest{Email: email, FriendlyName: ct.FriendlyName}
	}
	c.mu.Unlock()
	s.emit(&ContactListChanged{})
	if req != nil {
		s.emit(req)
	}
}

// tolerate returns nil when err is one of the server error codes that mean
// "already done".
func tolerate(err error, codes ...int) error {
	var se *msnp.ServerError
	if errors.As(err, &se) {
		for _, code := range codes {
			if se.Code == code {
				return nil
			}
		}
	}
	return err
}

// Server error codes for list changes.
const (
	errCodeAlreadyOnList = 215
	errCodeNotOnList     = 216
)

// addTo adds email to one list (ADD in MSNP8-9, ADC in MSNP10+).
func (o *synOps) addTo(ctx context.Context, list, email string) error {
	var cmd *msnp.Command
	switch {
	case !o.s.d.contactGUIDs:
		cmd = msnp.New("ADD", list, email, email)
	case list == "FL":
		cmd = msnp.New("ADC", list, "N="+email, "F="+email)
	default:
		cmd = msnp.New("ADC", list, "N="+email)
	}
	reply, err := o.s.conn.request(ctx, cmd)
	if err = tolerate(err, errCodeAlreadyOnList); err != nil {
		return fmt.Errorf("add to %s: %w", list, err)
	}
	bit := listBit(list)
	o.c.mu.Lock()
	o.c.list.setLists(email, bit, 0)
	if reply != nil && !reply.IsError() {
		for _, a := range reply.Args {
			if strings.HasPrefix(a, "C=") {
				o.c.list.get(email, false).ContactID = a[2:]
			}
		}
	}
	o.c.mu.Unlock()
	return nil
}

// removeFrom removes email from one list (by GUID for FL in MSNP10+).
func (o *synOps) removeFrom(ctx context.Context, list, email string) error {
	id := email
	if list == "FL" && o.s.d.contactGUIDs {
		o.c.mu.Lock()
		ct := o.c.list.get(email, false)
		if ct != nil {
			id = ct.ContactID
		}
		o.c.mu.Unlock()
		if ct == nil || ct.Lists&ListForward == 0 {
			return nil // not on FL: nothing to remove
		}
		if id == "" {
			return fmt.Errorf("remove from FL: no contact id known for %s", email)
		}
	}
	_, err := o.s.conn.request(ctx, msnp.New("REM", list, id))
	if err = tolerate(err, errCodeNotOnList); err != nil {
		return fmt.Errorf("remove from %s: %w", list, err)
	}
	o.c.changeLists(email, 0, listBit(list))
	return nil
}

func listBit(list string) Lists {
	switch list {
	case "FL":
		return ListForward
	case "AL":
		return ListAllow
	case "BL":
		return ListBlock
	case "RL":
		return ListReverse
	case "PL":
		return ListPending
	}
	return 0
}

func (o *synOps) add(ctx context.Context, email string) error {
	if o.c.lists(email)&ListBlock != 0 {
		if err := o.removeFrom(ctx, "BL", email); err != nil {
			return err
		}
	}
	if err := o.addTo(ctx, "FL", email); err != nil {
		return err
	}
	return o.addTo(ctx, "AL", email)
}

func (o *synOps) remove(ctx context.Context, email string) error {
	return o.removeFrom(ctx, "FL", email)
}

func (o *synOps) block(ctx context.Context, email string) error {
	if o.c.lists(email)&ListAllow != 0 {
		if err := o.removeFrom(ctx, "AL", email); err != nil {
			return err
		}
	}
	return o.addTo(ctx, "BL", email)
}

func (o *synOps) unblock(ctx context.Context, email string) error {
	if err := o.removeFrom(ctx, "BL", email); err != nil {
		return err
	}
	return o.addTo(ctx, "AL", email)
}

func (o *synOps) accept(ctx context.Context, email string) error {
	if err := o.addTo(ctx, "AL", email); err != nil {
		return err
	}
	if err := o.addTo(ctx, "FL", email); err != nil {
		return err
	}
	if o.s.d.pendingList && o.c.lists(email)&ListPending != 0 {
		if err := o.removeFrom(ctx, "PL", email); err != nil {
			return err
		}
	}
	return nil
}
