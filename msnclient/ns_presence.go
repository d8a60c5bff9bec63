package msnclient

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// presenceLine is a parsed ILN or NLN line.
type presenceLine struct {
	email        string
	status       Status
	friendlyName string
	capabilities string
	msnObject    string
	viaCircle    bool
}

// validStatus reports whether s is a status a contact can have.
func validStatus(s Status) bool {
	switch s {
	case StatusOnline, StatusBusy, StatusIdle, StatusBeRightBack, StatusAway,
		StatusOnThePhone, StatusOutToLunch, StatusInvisible:
		return true
	}
	return false
}

// splitAddress parses "email", "1:email" and "1:email;via=…" forms.
func splitAddress(field string) (email string, via bool) {
	if i := strings.Index(field, ";"); i >= 0 {
		via = strings.HasPrefix(field[i:], ";via=")
		field = field[:i]
	}
	if i := strings.Index(field, ":"); i >= 0 && i < strings.Index(field, "@") {
		field = field[i+1:]
	}
	return strings.ToLower(field), via
}

// parsePresence parses ILN (args: trid status …) and NLN (args: status …)
// in every dialect's form:
//
//	8:     ST email name caps
//	9-13:  ST email name caps msnobj
//	14-17: ST email 1 name caps msnobj
//	18:    ST 1:email name caps:capsex msnobj
//
// The network id and MSNObject are accepted whether present or not.
func parsePresence(d *dialect, cmd *msnp.Command) (presenceLine, error) {
	args := cmd.Args
	if cmd.Name == "ILN" {
		if len(args) == 0 {
			return presenceLine{}, errors.New("empty ILN")
		}
		args = args[1:]
	}
	if len(args) < 3 {
		return presenceLine{}, errors.New("too few fields")
	}
	var p presenceLine
	p.status = Status(args[0])
	if !validStatus(p.status) {
		return p, fmt.Errorf("unknown status %q", args[0])
	}
	p.email, p.viaCircle = splitAddress(args[1])
	if _, err := checkEmail(p.email); err != nil {
		return p, err
	}
	rest := args[2:]
	if d.presenceNetID && len(rest) >= 3 && isDigits(rest[0]) {
		rest = rest[1:]
	}
	p.friendlyName = decodeName(rest[0])
	if len(rest) > 1 {
		p.capabilities = rest[1]
	}
	if len(rest) > 2 {
		p.msnObject = normalizeMSNObject(msnp.DecodeParam(rest[2]))
	}
	return p, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normalizeMSNObject returns "" for the placeholder "<msnobj/>" and objects
// without a SHA1D (no picture).
func normalizeMSNObject(obj string) string {
	obj = strings.TrimSpace(obj)
	if obj == "" || obj == "0" || !strings.Contains(obj, "SHA1D") {
		return ""
	}
	return obj
}

// handlePresence handles ILN and NLN.
func (c *Client) handlePresence(s *session, cmd *msnp.Command) {
	if c.handleCircleLine(s, cmd) {
		return
	}
	p, err := parsePresence(s.d, cmd)
	if err != nil {
		c.log.Warn().Err(err).Str("cmd", cmd.Redacted()).Msg("Skipping malformed presence line")
		return
	}
	if p.viaCircle {
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring circle member presence")
		return
	}
	if p.email == c.Email() {
		c.ownPresence(s, p) // MPOP echo
		return
	}
	c.mu.Lock()
	old := c.list.presence[p.email]
	initial := cmd.Name == "ILN" || (s.d.initialNLN && !s.burstDone && old == nil)
	if old != nil && old.status == p.status && old.friendlyName == p.friendlyName &&
		old.capabilities == p.capabilities && old.msnObject == p.msnObject {
		c.mu.Unlock()
		return // duplicate (another endpoint of the contact)
	}
	np := &presence{status: p.status, friendlyName: p.friendlyName, capabilities: p.capabilities, msnObject: p.msnObject}
	if old != nil {
		np.psm, np.media = old.psm, old.media
	}
	c.list.presence[p.email] = np
	if ct := c.list.get(p.email, false); ct != nil && p.friendlyName != "" {
		ct.FriendlyName = p.friendlyName
	}
	c.mu.Unlock()
	s.emit(&ContactPresence{
		Email: p.email, Status: p.status, FriendlyName: p.friendlyName,
		Capabilities: p.capabilities, MSNObject: p.msnObject, Initial: initial,
	})
}

// handleOffline handles "FLN email", "FLN email 1 0", "FLN 1:email 0:0".
func (c *Client) handleOffline(s *session, cmd *msnp.Command) {
	if c.handleCircleLine(s, cmd) {
		return
	}
	email, via := splitAddress(cmd.Arg(0))
	if _, err := checkEmail(email); err != nil || via {
		if err != nil {
			c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed FLN")
		}
		return
	}
	if email == c.Email() {
		return // one of our own endpoints went offline
	}
	c.mu.Lock()
	old := c.list.presence[email]
	if old != nil && old.status == StatusOffline {
		c.mu.Unlock()
		return
	}
	name := email
	if ct := c.list.get(email, false); ct != nil {
		name = ct.FriendlyName
	}
	np := &presence{status: StatusOffline}
	if old != nil {
		np.psm, np.media = old.psm, old.media
	}
	c.list.presence[email] = np
	c.mu.Unlock()
	s.emit(&ContactPresence{Email: email, Status: StatusOffline, FriendlyName: name})
}

// handleUBX handles a personal message: "UBX email len", "UBX email 1 len",
// "UBX 1:email len".
func (c *Client) handleUBX(s *session, cmd *msnp.Command) {
	if c.handleCircleLine(s, cmd) {
		return
	}
	email, via := splitAddress(cmd.Arg(0))
	if _, err := checkEmail(email); err != nil || via {
		if err != nil {
			c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed UBX")
		}
		return
	}
	data, err := parseUBX(cmd.Payload)
	if err != nil {
		c.log.Warn().Err(err).Str("email", email).Msg("Skipping malformed UBX payload")
		return
	}
	if email == c.Email() {
		c.ownUBX(s, data)
		return
	}
	c.mu.Lock()
	p := c.list.presence[email]
	if p == nil {
		p = &presence{status: StatusOffline}
		c.list.presence[email] = p
	}
	psm := p.psm
	if data.PSM != nil {
		psm = *data.PSM
	}
	if psm == p.psm && data.CurrentMedia == p.media {
		c.mu.Unlock()
		return
	}
	p.psm, p.media = psm, data.CurrentMedia
	c.mu.Unlock()
	s.emit(&PersonalMessage{Email: email, Message: psm, CurrentMedia: data.CurrentMedia})
}

// SetStatus sets our presence status.
func (c *Client) SetStatus(ctx context.Context, status Status) error {
	if !validStatus(status) {
		return fmt.Errorf("set status: invalid status %q", status)
	}
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("set status: %w", err)
	}
	return c.sendStatus(ctx, s, status)
}

// sendStatus sends CHG with our capabilities and MSNObject.
func (c *Client) sendStatus(ctx context.Context, s *session, status Status) error {
	c.mu.Lock()
	obj := c.own.msnObject
	c.mu.Unlock()
	args := []string{string(status), s.d.caps}
	if s.d.msnObjectInCHG && obj != "" {
		args = append(args, msnp.EncodeParamFull(obj))
	}
	if _, err := s.conn.request(ctx, msnp.New("CHG", args...)); err != nil {
		return fmt.Errorf("set status %s: %w", status, err)
	}
	c.mu.Lock()
	c.own.status = status
	c.mu.Unlock()
	// The endpoint name is a courtesy to the user's other clients: a
	// server that refuses it does not fail the status change.
	if err := c.sendEndpointData(ctx, s, status); err != nil {
		c.log.Warn().Err(err).Msg("Could not set the endpoint name")
	}
	return nil
}

// SetDisplayPicture sets our MSNObject (XML, or "" for none). When
// connected it is announced at once with the current status.
func (c *Client) SetDisplayPicture(ctx context.Context, msnObject string) error {
	msnObject = strings.TrimSpace(msnp.CleanText(msnObject))
	if msnObject != "" && !strings.HasPrefix(msnObject, "<msnobj") {
		return errors.New("set display picture: not an msnobj element")
	}
	c.mu.Lock()
	c.own.msnObject = msnObject
	status := c.own.status
	c.mu.Unlock()
	s, err := c.connected()
	if err != nil {
		return nil // used at the next login
	}
	if status == "" {
		status = c.cfg.InitialStatus
	}
	return c.sendStatus(ctx, s, status)
}

// maxFriendlyName is the longest friendly name MSN accepts (in bytes once
// encoded, Escargot's limit is larger; 387 matches MSN's).
const maxFriendlyName = 387

// SetFriendlyName sets our friendly name.
func (c *Client) SetFriendlyName(ctx context.Context, name string) error {
	name = strings.TrimSpace(msnp.CleanText(name))
	if name == "" {
		return errors.New("set friendly name: empty name")
	}
	enc := msnp.EncodeParam(name)
	if len(enc) > maxFriendlyName {
		return fmt.Errorf("set friendly name: name too long (%d bytes encoded, limit %d)", len(enc), maxFriendlyName)
	}
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("set friendly name: %w", err)
	}
	var cmd *msnp.Command
	if s.d.renameWithREA {
		cmd = msnp.New("REA", c.cfg.Email, enc)
	} else {
		cmd = msnp.New("PRP", "MFN", enc)
	}
	// Record it first so that our own echo (MPOP) is not taken for a change.
	c.mu.Lock()
	old := c.own.friendlyName
	c.own.friendlyName = name
	c.mu.Unlock()
	if _, err := s.conn.request(ctx, cmd); err != nil {
		c.mu.Lock()
		if c.own.friendlyName == name {
			c.own.friendlyName = old
		}
		c.mu.Unlock()
		return fmt.Errorf("set friendly name: %w", err)
	}
	return nil
}

// SetPersonalMessage sets our personal message and current media (MSNP11+).
func (c *Client) SetPersonalMessage(ctx context.Context, message, currentMedia string) error {
	s, err := c.connected()
	if err != nil {
		return fmt.Errorf("set personal message: %w", err)
	}
	if !s.d.psm {
		return fmt.Errorf("set personal message: not supported by MSNP%d", s.d.version)
	}
	message = msnp.CleanText(message)
	currentMedia = msnp.CleanText(currentMedia)
	payload := buildUUX(s.d, message, currentMedia, c.guid)
	c.mu.Lock()
	oldPSM, oldMedia := c.own.psm, c.own.media
	c.own.psm, c.own.media = message, currentMedia
	c.mu.Unlock()
	if _, err := s.conn.request(ctx, msnp.NewPayload("UUX", payload)); err != nil {
		c.mu.Lock()
		c.own.psm, c.own.media = oldPSM, oldMedia
		c.mu.Unlock()
		return fmt.Errorf("set personal message: %w", err)
	}
	return nil
}

// FriendlyName returns our own friendly name as last known.
func (c *Client) FriendlyName() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.own.friendlyName
}
