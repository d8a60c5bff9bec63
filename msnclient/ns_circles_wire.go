package msnclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Wire formats of circles (escargot.md §5): SDG messages, PUT
// publications, NFY notifications, and presence lines with via=.
// Everything received here is parsed defensively: a malformed payload is
// logged and skipped, never fatal.

// maxCircleText bounds the UTF-8 bytes of one SDG text part; longer text
// is sent as several messages, as for switchboard messages.
const maxCircleText = 1400

// circleEnvelope is a parsed SDG/NFY/PUT payload: the routing block
// (To, From), the reliability block and the message block with its body.
type circleEnvelope struct {
	routing     *mimeMessage
	reliability *mimeMessage
	msg         *mimeMessage // headers of the third block, and the body
}

var errCircleEnvelope = errors.New("not a three-block circle payload")

// parseCircleEnvelope splits a payload into its three header blocks.
func parseCircleEnvelope(p []byte) (*circleEnvelope, error) {
	if len(p) > maxNSPayload {
		return nil, fmt.Errorf("circle payload of %d bytes is too large", len(p))
	}
	routing, rest := splitHeaderBody(p)
	if rest == nil {
		return nil, errCircleEnvelope
	}
	reliability, rest := splitHeaderBody(rest)
	if rest == nil {
		return nil, errCircleEnvelope
	}
	env := &circleEnvelope{
		routing:     parseMessage(routing),
		reliability: parseMessage(reliability),
		msg:         parseMessage(rest),
	}
	if env.routing.Get("To") == "" || env.routing.Get("From") == "" {
		return nil, errors.New("circle payload without To or From")
	}
	return env, nil
}

// splitCircleAddr parses "1:email;epid={guid}" (or "9:<id>@live.com;path=IM")
// into the address without network prefix, the network and the parameters
// after ';'.
func splitCircleAddr(v string) (addr string, network string, params string) {
	v = strings.TrimSpace(v)
	v, params, _ = strings.Cut(v, ";")
	network, addr, ok := strings.Cut(v, ":")
	if !ok {
		return v, "", params
	}
	return addr, network, params
}

// circleOfAddress returns the circle of "9:<id>@live.com[;…]".
func circleOfAddress(v string) (CircleID, bool) {
	addr, network, _ := splitCircleAddr(v)
	if network != "9" {
		return "", false
	}
	id, err := ParseCircleID(addr)
	return id, err == nil
}

// circleOfVia returns the circle of a "1:email;via=9:<id>@live.com" field.
func circleOfVia(field string) (CircleID, bool) {
	_, via, ok := strings.Cut(field, ";via=")
	if !ok {
		return "", false
	}
	return circleOfAddress(via)
}

// ownAddress is our "1:email;epid={guid}" as circles want it: the email
// exactly as we logged in with it.
func (c *Client) ownAddress() string {
	return "1:" + c.cfg.Email + ";epid=" + c.guid
}

// envelope builds the routing and reliability blocks to a circle.
func (c *Client) envelope(to string) []byte {
	var b []byte
	b = append(b, "Routing: 1.0\r\n"...)
	b = appendHeader(b, "To", to)
	b = appendHeader(b, "From", c.ownAddress())
	b = append(b, "\r\nReliability: 1.0\r\n\r\n"...)
	return b
}

// rosterPut is the PUT payload that publishes us in a circle's roster.
func (c *Client) rosterPut(id CircleID) []byte {
	body := "<circle><roster><id>IM</id><user><id>1:" + xmlsafe.EscapeLossy(c.cfg.Email) + "</id></user></roster></circle>"
	b := c.envelope(id.Address())
	b = append(b, "Publication: 1.0\r\nUri: /circle\r\nContent-Type: application/circles+xml\r\n"...)
	b = appendHeader(b, "Content-Length", fmt.Sprint(len(body)))
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// sdgPayload builds an SDG to a circle with the message-block headers
// given (each "Name: value") and body.
func (c *Client) sdgPayload(id CircleID, messageType string, extra [][2]string, body []byte) []byte {
	b := c.envelope(id.Address() + ";path=IM")
	b = append(b, "Messaging: 2.0\r\n"...)
	b = appendHeader(b, "Content-Length", fmt.Sprint(len(body)))
	b = append(b, "Content-Type: Text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n"...)
	b = appendHeader(b, "Message-Type", messageType)
	b = append(b, "MIME-Version: 1.0\r\n"...)
	for _, h := range extra {
		b = appendHeader(b, h[0], h[1])
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// sendSDG sends one SDG and confirms that the server did not refuse it.
// SDG has no reply on success, so a URL request follows as a barrier: the
// server answers commands in order, so a refusal (201) of the SDG arrives
// before the URL reply.
func (c *Client) sendSDG(ctx context.Context, s *session, payload []byte) error {
	call, err := s.conn.eng.Start(msnp.NewPayload("SDG", payload), func(*msnp.Command) bool { return false })
	if err != nil {
		return s.conn.writeFailed(msnp.New("SDG"), err)
	}
	defer call.Cancel()
	if _, err := s.conn.request(ctx, msnp.New("URL", "INBOX")); err != nil && !errors.As(err, new(*msnp.ServerError)) {
		return fmt.Errorf("%w: %w", ErrDeliveryUnconfirmed, err)
	}
	select {
	case r := <-call.Reply():
		if err := r.Err(); err != nil {
			return fmt.Errorf("%w: SDG: %w", ErrNotDelivered, err)
		}
	default:
	}
	return nil
}

// joinedCircle returns the session for sending to a joined circle.
func (c *Client) joinedCircle(id CircleID) (*session, error) {
	s, err := c.circleOp()
	if err != nil {
		return nil, err
	}
	info, joined, _, err := c.circleEntryFor(s, id)
	if err != nil {
		return nil, err
	}
	if info.State != CircleAccepted || !joined {
		return nil, fmt.Errorf("msn: circle %s is not joined", id)
	}
	return s, nil
}

func (c *Client) sendCircleText(ctx context.Context, id CircleID, msg TextMessage) error {
	s, err := c.joinedCircle(id)
	if err != nil {
		return err
	}
	text := normalizeText(msg.Text)
	if strings.TrimSpace(text) == "" {
		return errors.New("msn: empty message")
	}
	format := [][2]string{{"X-MMS-IM-Format", formatHeader(msg.Format)}}
	for _, part := range splitText(text, maxCircleText) {
		if err := c.sendSDG(ctx, s, c.sdgPayload(id, "Text", format, []byte(part))); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) sendCircleControl(ctx context.Context, id CircleID, kind circleControl) error {
	s, err := c.joinedCircle(id)
	if err != nil {
		return err
	}
	var payload []byte
	switch kind {
	case circleTyping:
		payload = c.sdgPayload(id, "Control", [][2]string{{"Message-Subtype", "Typing"}, {"TypingUser", c.cfg.Email}}, nil)
	case circleNudge:
		payload = c.sdgPayload(id, "Nudge", nil, []byte("ID: 1\r\n\r\n"))
	}
	return c.sendSDG(ctx, s, payload)
}

// circleControl is a non-text SDG message kind.
type circleControl int

const (
	circleTyping circleControl = iota
	circleNudge
)

// handleSDG handles a circle message relayed by the server.
func (c *Client) handleSDG(s *session, cmd *msnp.Command) {
	evt, unknownSender, err := c.parseSDG(cmd.Payload)
	if err != nil {
		c.log.Warn().Err(err).Msg("Skipping malformed SDG")
		return
	}
	if evt != nil {
		s.emit(evt)
	}
	if unknownSender != "" {
		c.refreshCircleMembers(s, unknownSender) // a member we do not know yet
	}
}

// parseSDG turns an SDG payload into a circle event, nil for one to drop
// (our own echo, a circle we are not in, an unknown kind). refresh names
// a circle whose member list lacks the sender.
func (c *Client) parseSDG(payload []byte) (evt any, refresh CircleID, err error) {
	env, err := parseCircleEnvelope(payload)
	if err != nil {
		return nil, "", err
	}
	id, ok := circleOfAddress(env.routing.Get("To"))
	if !ok {
		return nil, "", fmt.Errorf("SDG to %q, not a circle", env.routing.Get("To"))
	}
	addr, network, params := splitCircleAddr(env.routing.Get("From"))
	from, err := checkEmail(addr)
	if err != nil || (network != "" && network != "1") {
		return nil, "", fmt.Errorf("SDG from %q", env.routing.Get("From"))
	}
	fromSelf := from == c.Email()
	if fromSelf && strings.EqualFold(strings.TrimPrefix(params, "epid="), c.guid) {
		return nil, "", nil // our own message echoed
	}
	c.mu.Lock()
	e := c.circles.byID[id]
	var name string
	joined := e != nil && e.joined
	if joined {
		if m := e.members[from]; m != nil {
			name = m.Name
		} else if !fromSelf {
			refresh = id
		}
	}
	if name == "" {
		name = from
		if ct := c.list.get(from, false); ct != nil {
			name = ct.FriendlyName
		}
	}
	c.mu.Unlock()
	if !joined {
		c.log.Info().Str("circle", string(id)).Str("from", from).Msg("Dropping a circle message for a circle we are not in")
		return nil, "", nil
	}
	switch strings.ToLower(env.msg.Get("Message-Type")) {
	case "text":
		return &CircleMessage{
			ID: id, From: from, FromName: name, FromSelf: fromSelf,
			Message: TextMessage{Text: env.msg.Text(), Format: parseFormat(env.msg.Get("X-MMS-IM-Format"))},
		}, refresh, nil
	case "nudge":
		return &CircleNudge{ID: id, From: from, FromSelf: fromSelf}, refresh, nil
	case "control":
		if fromSelf || !strings.EqualFold(env.msg.Get("Message-Subtype"), "Typing") {
			return nil, refresh, nil
		}
		return &CircleTyping{ID: id, From: from}, refresh, nil
	}
	c.log.Debug().Str("type", env.msg.Get("Message-Type")).Msg("Ignoring circle message of an unknown type")
	return nil, refresh, nil
}

// circleNFY is what an NFY says.
type circleNFY struct {
	id      CircleID
	del     bool
	uri     string
	roster  []string // emails of a roster publication
	name    *string  // circle name (MFN) of a props publication
	psm     *string
	isNew   bool // "new circle" notification
	leaving string
}

type circleDoc struct {
	Roster *struct {
		Users []string `xml:"user>id"`
	} `xml:"roster"`
	Props *struct {
		MFN *string `xml:"presence>Data>MFN"`
		PSM *string `xml:"presence>Data>PSM"`
	} `xml:"props"`
}

// parseNFY parses "NFY PUT|DEL" payloads from a circle.
func parseNFY(verb string, payload []byte) (*circleNFY, error) {
	env, err := parseCircleEnvelope(payload)
	if err != nil {
		return nil, err
	}
	id, ok := circleOfAddress(env.routing.Get("From"))
	if !ok {
		return nil, fmt.Errorf("NFY from %q, not a circle", env.routing.Get("From"))
	}
	n := &circleNFY{id: id, del: verb == "DEL", uri: env.msg.Get("Uri")}
	if n.del {
		const prefix, suffix = "/circle/roster(IM)/user(", ")"
		if !strings.HasPrefix(n.uri, prefix) || !strings.HasSuffix(n.uri, suffix) {
			return nil, fmt.Errorf("NFY DEL of %q", n.uri)
		}
		addr, network, _ := splitCircleAddr(n.uri[len(prefix) : len(n.uri)-len(suffix)])
		email, err := checkEmail(addr)
		if err != nil || network != "1" {
			return nil, fmt.Errorf("NFY DEL of %q", n.uri)
		}
		n.leaving = email
		return n, nil
	}
	if verb != "PUT" {
		return nil, fmt.Errorf("NFY %q", verb)
	}
	body := bytes.TrimSpace(env.msg.Body)
	if len(body) == 0 {
		n.isNew = env.msg.Get("Notification") != "" && strings.TrimRight(n.uri, "/") == "/circle"
		return n, nil
	}
	if len(body) > maxXMLPayload {
		return nil, errXMLTooLarge
	}
	var doc circleDoc
	if err := xmlsafe.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode NFY body: %w", err)
	}
	if doc.Roster != nil {
		for _, u := range doc.Roster.Users {
			addr, network, _ := splitCircleAddr(u)
			if email, err := checkEmail(addr); err == nil && network == "1" {
				n.roster = append(n.roster, email)
			}
		}
	}
	if doc.Props != nil {
		if doc.Props.MFN != nil {
			name := cleanCircleName(*doc.Props.MFN)
			n.name = &name
		}
		if doc.Props.PSM != nil {
			psm := msnp.CleanText(*doc.Props.PSM)
			n.psm = &psm
		}
	}
	return n, nil
}

// handleNFY handles circle notifications.
func (c *Client) handleNFY(s *session, cmd *msnp.Command) {
	if !s.d.circles {
		return
	}
	n, err := parseNFY(cmd.Arg(0), cmd.Payload)
	if err != nil {
		c.log.Warn().Err(err).Msg("Skipping malformed NFY")
		return
	}
	c.mu.Lock()
	e := c.circleSession(s).byID[n.id]
	joined := e != nil && e.joined
	c.mu.Unlock()
	switch {
	case n.isNew:
		if !joined {
			c.scheduleRefresh(s) // fetches the address book and joins it
		}
	case !joined:
		c.log.Debug().Str("circle", string(n.id)).Msg("Ignoring NFY of a circle we are not in")
	case n.leaving != "":
		c.circlePresence(s, n.id, n.leaving, func(p *circlePresence) { p.status = StatusOffline })
		c.refreshCircleMembers(s, n.id)
	case n.roster != nil:
		c.mu.Lock()
		unknown := false
		for _, email := range n.roster {
			if email == c.Email() {
				continue
			}
			if m := e.members[email]; m == nil || m.State != CircleAccepted {
				unknown = true
			}
		}
		c.mu.Unlock()
		if unknown {
			c.refreshCircleMembers(s, n.id)
		}
	case n.name != nil || n.psm != nil:
		c.mu.Lock()
		var changed *Circle
		if e := c.circles.byID[n.id]; e != nil {
			info := e.info
			if n.name != nil && *n.name != "" {
				info.Name = *n.name
			}
			if n.psm != nil {
				info.PSM = *n.psm
			}
			if info != e.info {
				e.info = info
				changed = &info
			}
		}
		c.mu.Unlock()
		if changed != nil {
			s.emit(&CircleUpdated{Circle: *changed})
		}
	}
}

// propsPut is the PUT payload that sets a circle's personal message.
func (c *Client) propsPut(id CircleID, psm string) []byte {
	body := "<circle><props><presence dtype=\"xml\"><Data><PSM>" + xmlsafe.EscapeLossy(psm) + "</PSM><CurrentMedia></CurrentMedia></Data></presence></props></circle>"
	b := c.envelope(id.Address())
	b = append(b, "Publication: 1.0\r\nUri: /circle\r\nContent-Type: application/circles+xml\r\n"...)
	b = appendHeader(b, "Content-Length", fmt.Sprint(len(body)))
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// maxCirclePSM bounds a circle's personal message (as a contact's).
const maxCirclePSM = 129

func (c *Client) setCirclePersonalMessage(ctx context.Context, id CircleID, psm string) error {
	s, err := c.joinedCircle(id)
	if err != nil {
		return err
	}
	psm = strings.Join(strings.Fields(msnp.CleanText(psm)), " ")
	if len([]rune(psm)) > maxCirclePSM {
		return fmt.Errorf("msn: circle personal message longer than %d characters", maxCirclePSM)
	}
	if _, err := s.conn.request(ctx, msnp.NewPayload("PUT", c.propsPut(id, psm))); err != nil {
		return fmt.Errorf("set circle personal message: %w", err)
	}
	c.mu.Lock()
	var changed *Circle
	if e := c.circles.byID[id]; e != nil && e.info.PSM != psm {
		e.info.PSM = psm
		info := e.info
		changed = &info
	}
	c.mu.Unlock()
	if changed != nil {
		s.emit(&CircleUpdated{Circle: *changed})
	}
	return nil
}

// handleCircleNOT re-reads a joined circle's members when an address book
// notification names it. It reports whether the notification needs
// nothing else: the one the server sends in answer to our own circle ADL
// (we have just read the members). Any other one also has the whole
// address book re-read (invitations, circles we were removed from).
func (c *Client) handleCircleNOT(s *session, payload []byte) bool {
	if !s.d.circles || len(payload) > maxXMLPayload {
		return false
	}
	var n notification
	if err := xmlsafe.Unmarshal(payload, &n); err != nil {
		return false
	}
	var data struct {
		CircleID string `xml:"CircleId"`
	}
	if err := xmlsafe.Unmarshal([]byte(n.Body), &data); err != nil || data.CircleID == "" {
		return false
	}
	id, err := ParseCircleID(data.CircleID)
	if err != nil {
		return false
	}
	c.mu.Lock()
	e := c.circleSession(s).byID[id]
	joined := e != nil && e.joined
	echo := joined && e.joinEcho
	if echo {
		e.joinEcho = false
	}
	c.mu.Unlock()
	if joined && !echo {
		c.refreshCircleMembers(s, id)
	}
	return echo
}

// handleCircleLine handles a presence line of network 9 (the circle
// itself) or with via=9: (a member inside a circle). It reports whether
// the line was one of those.
func (c *Client) handleCircleLine(s *session, cmd *msnp.Command) bool {
	field := ""
	switch cmd.Name {
	case "ILN":
		field = cmd.Arg(2)
	case "NLN":
		field = cmd.Arg(1)
	case "FLN", "UBX":
		field = cmd.Arg(0)
	}
	if strings.HasPrefix(field, "9:") {
		c.log.Debug().Str("cmd", cmd.Redacted()).Msg("Ignoring a circle's own presence")
		return true
	}
	id, ok := circleOfVia(field)
	if !ok {
		return false
	}
	addr, _, _ := splitCircleAddr(field)
	email, err := checkEmail(addr)
	if err != nil {
		c.log.Warn().Str("cmd", cmd.Redacted()).Msg("Skipping malformed circle presence")
		return true
	}
	if email == c.Email() {
		return true
	}
	switch cmd.Name {
	case "ILN", "NLN":
		p, err := parsePresence(s.d, cmd)
		if err != nil {
			c.log.Warn().Err(err).Str("cmd", cmd.Redacted()).Msg("Skipping malformed circle presence")
			return true
		}
		c.circlePresence(s, id, email, func(cp *circlePresence) {
			cp.status, cp.name, cp.capabilities, cp.msnObject = p.status, p.friendlyName, p.capabilities, p.msnObject
		})
	case "FLN":
		c.circlePresence(s, id, email, func(cp *circlePresence) { cp.status = StatusOffline })
	case "UBX":
		data, err := parseUBX(cmd.Payload)
		if err != nil {
			c.log.Warn().Err(err).Msg("Skipping malformed circle UBX")
			return true
		}
		c.circlePresence(s, id, email, func(cp *circlePresence) {
			if data.PSM != nil {
				cp.psm = *data.PSM
			}
		})
	}
	return true
}

// circlePresence applies a change to a member's presence in a joined
// circle and emits it when it changed.
func (c *Client) circlePresence(s *session, id CircleID, email string, change func(*circlePresence)) {
	c.mu.Lock()
	e := c.circleSession(s).byID[id]
	if e == nil || !e.joined {
		c.mu.Unlock()
		c.log.Debug().Str("circle", string(id)).Msg("Ignoring presence in a circle we are not in")
		return
	}
	if e.presence == nil {
		e.presence = make(map[string]*circlePresence)
	}
	old := e.presence[email]
	p := &circlePresence{status: StatusOffline}
	if old != nil {
		cp := *old
		p = &cp
	}
	change(p)
	if old != nil && *old == *p {
		c.mu.Unlock()
		return
	}
	e.presence[email] = p
	name := p.name
	if name == "" {
		if m := e.members[email]; m != nil {
			name = m.Name
		} else {
			name = email
		}
	}
	c.mu.Unlock()
	s.emit(&CircleMemberPresence{ID: id, Email: email, Name: name, Status: p.status, PSM: p.psm, Capabilities: p.capabilities, MSNObject: p.msnObject})
}
