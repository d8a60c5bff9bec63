package msnclient

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// MSNP18 circles (Windows Live "Groups"): persistent group conversations
// that live on the server. A circle is discovered in the address book,
// joined on the notification server after authenticating with the circle
// ticket (USR SHA), and carries its messages, typing and nudges as SDG
// commands. See ns_circles*.go for the protocol.

// CircleID identifies a circle: "00000000-0000-0000-0009-<12 lowercase hex>".
type CircleID string

// CircleRole is a member's role in a circle.
type CircleRole string

// Circle roles, as the address book names them.
const (
	CircleRoleAdmin          CircleRole = "Admin"          // created the circle; may invite
	CircleRoleAssistantAdmin CircleRole = "AssistantAdmin" // may invite
	CircleRoleMember         CircleRole = "Member"
	CircleRolePending        CircleRole = "StatePendingOutbound" // invited, has not answered
)

// CanInvite reports whether a member with this role may invite people.
func (r CircleRole) CanInvite() bool {
	return r == CircleRoleAdmin || r == CircleRoleAssistantAdmin
}

// CircleState is the state of a membership.
type CircleState string

// Membership states.
const (
	CircleAccepted        CircleState = "Accepted"        // a member
	CircleWaitingResponse CircleState = "WaitingResponse" // invited, has not answered
)

// Circle is a circle the user belongs to or is invited to.
type Circle struct {
	ID    CircleID
	Name  string // display name, cleaned of control characters
	Role  CircleRole
	State CircleState
	// Inviter is the email of who invited us (set for a pending
	// invitation when the address book says so; may be empty).
	Inviter string
	// PSM is the circle's personal message (its "status"), set by any
	// member; empty until the server announced one.
	PSM string
}

// Pending reports whether the circle is an invitation not yet answered.
func (c Circle) Pending() bool { return c.State == CircleWaitingResponse }

// CircleMember is one member of a circle, from the circle's address book
// and its presence inside the circle.
type CircleMember struct {
	Email string // lower-cased
	Name  string
	Role  CircleRole
	State CircleState
	// Status is the member's presence in the circle (StatusOffline when
	// not signed in or not in the circle's roster).
	Status Status
}

// Errors of the circle methods.
var (
	// ErrCirclesUnsupported is returned by every circle method on a
	// dialect below MSNP18, which has no circles.
	ErrCirclesUnsupported = errors.New("msn: circles need MSNP18")
	// ErrUnknownCircle: the circle is not one we belong to (or are
	// invited to), or we left it.
	ErrUnknownCircle = errors.New("msn: unknown circle")
	// ErrCircleTicketRejected: the server refused the circle ticket (911)
	// even after a fresh one was fetched.
	ErrCircleTicketRejected = errors.New("msn: circle ticket rejected")
	// ErrCircleNotAllowed: our role in the circle does not allow this
	// (only Admin and AssistantAdmin may invite).
	ErrCircleNotAllowed = errors.New("msn: not allowed in this circle")
)

// Circle events. All are passed as pointers.

// CircleJoined is sent when a circle becomes usable: at login for each
// accepted circle, after accepting an invitation, and after creating one.
// Members is the circle's address book at that moment, the user excluded
// (nil if it could not be fetched; CircleMembers retries). It is sent
// again after every reconnect.
type CircleJoined struct {
	Circle  Circle
	Members []CircleMember
}

// CircleUpdated is sent when a circle's name, our role or state changed.
type CircleUpdated struct {
	Circle Circle
}

// CircleRemoved is sent when we are no longer in a circle (left, declined,
// removed from another endpoint or by an admin).
type CircleRemoved struct {
	ID CircleID
}

// CircleInvitation is sent for a pending invitation to a circle: at login
// for each one, and when one arrives. Answer with AcceptCircleInvitation or
// DeclineCircleInvitation.
type CircleInvitation struct {
	Circle  Circle
	Inviter string // email, may be empty when the server does not say
}

// CircleMessage is a text message in a circle.
type CircleMessage struct {
	ID       CircleID
	From     string // lower-cased email
	FromName string // from the circle's member list, else the contact list, else the email
	FromSelf bool   // sent by another endpoint of ours
	Message  TextMessage
}

// CircleTyping is a typing notification in a circle.
type CircleTyping struct {
	ID   CircleID
	From string
}

// CircleNudge is a nudge in a circle.
type CircleNudge struct {
	ID       CircleID
	From     string
	FromSelf bool
}

// CircleMemberPresence is a member's presence inside a circle (NLN/FLN and
// UBX with via=).
type CircleMemberPresence struct {
	ID           CircleID
	Email        string
	Name         string
	Status       Status
	PSM          string
	Capabilities string
	MSNObject    string
}

// CircleJoinFailed is sent when circles could not be joined: ID is empty
// when authentication failed for all of them (the circle ticket was
// rejected twice, ErrCircleTicketRejected; reported once per session,
// and retried with the fresh ticket of every later address book read),
// else the circle concerned. Contacts and one-to-one conversations are
// not affected.
type CircleJoinFailed struct {
	ID  CircleID
	Err error
}

// CircleMemberJoined is sent when someone became an accepted member of a
// joined circle (accepted an invitation). Signing in and out is presence
// (CircleMemberPresence), not this.
type CircleMemberJoined struct {
	ID    CircleID
	Email string
}

// CircleMemberLeft is sent when an accepted member is no longer in a
// joined circle (left it or was removed).
type CircleMemberLeft struct {
	ID    CircleID
	Email string
}

// ParseCircleID checks s, a circle id or circle address
// ("9:00000000-0000-0000-0009-0123456789ab@live.com"), and returns the id
// in its canonical lower-case form.
func ParseCircleID(s string) (CircleID, error) {
	s = strings.TrimPrefix(s, "9:")
	if at := strings.IndexByte(s, '@'); at >= 0 {
		if !strings.EqualFold(s[at+1:], "live.com") && !strings.EqualFold(s[at+1:], "hotmail.com") {
			return "", fmt.Errorf("msn: %q is not a circle address", s)
		}
		s = s[:at]
	}
	const prefix = "00000000-0000-0000-0009-"
	if len(s) != len(prefix)+12 || !strings.EqualFold(s[:len(prefix)], prefix) {
		return "", fmt.Errorf("msn: %q is not a circle id", s)
	}
	for _, r := range s[len(prefix):] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return "", fmt.Errorf("msn: %q is not a circle id", s)
		}
	}
	return CircleID(strings.ToLower(s)), nil
}

// Address is the circle's network-9 address, "9:<id>@live.com".
func (id CircleID) Address() string { return "9:" + string(id) + "@live.com" }

// SupportsCircles reports whether the current (or last) session's dialect
// has circles (MSNP18).
func (c *Client) SupportsCircles() bool {
	d := c.dialect()
	return d != nil && d.circles
}

// Circles returns the circles we are in (accepted) and the pending
// invitations, sorted by id. Nil below MSNP18.
func (c *Client) Circles() []Circle { return c.circleList() }

// Circle returns one circle by id.
func (c *Client) Circle(id CircleID) (Circle, bool) { return c.circleByID(id) }

// CircleMembers fetches a circle's address book (every member, accepted
// or invited, other than the user) merged with the members' presence in
// the circle, sorted by email.
func (c *Client) CircleMembers(ctx context.Context, id CircleID) ([]CircleMember, error) {
	return c.circleMembers(ctx, id)
}

// SendCircleMessage sends a text message (with its formatting) to a circle.
// Line breaks are kept; the text cannot inject protocol headers.
func (c *Client) SendCircleMessage(ctx context.Context, id CircleID, msg TextMessage) error {
	return c.sendCircleText(ctx, id, msg)
}

// SendCircleTyping sends a typing notification to a circle.
func (c *Client) SendCircleTyping(ctx context.Context, id CircleID) error {
	return c.sendCircleControl(ctx, id, circleTyping)
}

// SendCircleNudge sends a nudge to a circle.
func (c *Client) SendCircleNudge(ctx context.Context, id CircleID) error {
	return c.sendCircleControl(ctx, id, circleNudge)
}

// CreateCircle creates a circle named name (we are its Admin), joins it
// and invites each of invite. The circle is returned even when an
// invitation failed; the error then says which (errors.Join of each).
func (c *Client) CreateCircle(ctx context.Context, name string, invite []string) (Circle, error) {
	return c.createCircle(ctx, name, invite)
}

// InviteToCircle invites email to a circle, with an optional message.
// Only Admin and AssistantAdmin members may invite (ErrCircleNotAllowed).
func (c *Client) InviteToCircle(ctx context.Context, id CircleID, email, message string) error {
	return c.inviteToCircle(ctx, id, email, message)
}

// AcceptCircleInvitation accepts a pending invitation and joins the circle
// (a CircleJoined event follows).
func (c *Client) AcceptCircleInvitation(ctx context.Context, id CircleID) error {
	return c.answerCircleInvitation(ctx, id, true)
}

// DeclineCircleInvitation declines a pending invitation (a CircleRemoved
// event follows).
func (c *Client) DeclineCircleInvitation(ctx context.Context, id CircleID) error {
	return c.answerCircleInvitation(ctx, id, false)
}

// SetCirclePersonalMessage sets a joined circle's personal message, which
// every member sees (CircleUpdated). Control characters become spaces.
func (c *Client) SetCirclePersonalMessage(ctx context.Context, id CircleID, message string) error {
	return c.setCirclePersonalMessage(ctx, id, message)
}

// LeaveCircle leaves a circle (a CircleRemoved event follows). Messages
// still arriving for it are dropped.
func (c *Client) LeaveCircle(ctx context.Context, id CircleID) error {
	return c.leaveCircle(ctx, id)
}
