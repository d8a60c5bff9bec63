package abch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

// MSNP18 circles: the circles found in the default address book
// (CircleResult), a circle's own address book, and the calls that create
// circles, invite to them, answer invitations and leave them.

// Circle membership states and roles, as named by the service (numeric
// values are converted to these names).
const (
	CircleStateWaiting  = "WaitingResponse"
	CircleStateLeft     = "Left"
	CircleStateAccepted = "Accepted"
	CircleStateRejected = "Rejected"

	CircleRoleAdmin          = "Admin"
	CircleRoleAssistantAdmin = "AssistantAdmin"
	CircleRoleMember         = "Member"
	CircleRolePending        = "StatePendingOutbound"
)

// CircleInfo is one CircleInverseInfo: a circle the user is in or invited to.
type CircleInfo struct {
	ID    string // lower-cased circle id
	Name  string
	Role  string // CircleRole*
	State string // CircleState*
}

// NetworkInfo is a contact's relationship on a network (circles: the
// membership of the user or of a member).
type NetworkInfo struct {
	DomainTag      string
	State          string // CircleState*
	Role           string // CircleRole*
	InviterEmail   string
	InviterName    string
	InviterMessage string
}

type xmlCircleInverse struct {
	ID      string `xml:"Content>Handle>Id"`
	Name    string `xml:"Content>Info>DisplayName"`
	Role    string `xml:"PersonalInfo>MembershipInfo>CirclePersonalMembership>Role"`
	State   string `xml:"PersonalInfo>MembershipInfo>CirclePersonalMembership>State"`
	Deleted string `xml:"Deleted"`
}

type xmlNetworkInfo struct {
	DomainTag      string `xml:"DomainTag"`
	State          string `xml:"RelationshipState"`
	Role           string `xml:"RelationshipRole"`
	InviterEmail   string `xml:"InviterEmail"`
	InviterName    string `xml:"InviterName"`
	InviterMessage string `xml:"InviterMessage"`
}

// circleState converts a RelationshipState (number or name).
func circleState(s string) string {
	switch s = strings.TrimSpace(s); s {
	case "1":
		return CircleStateWaiting
	case "2":
		return CircleStateLeft
	case "3":
		return CircleStateAccepted
	case "4":
		return CircleStateRejected
	}
	return s
}

// circleRole converts a RelationshipRole (number or name).
func circleRole(s string) string {
	switch s = strings.TrimSpace(s); s {
	case "0":
		return ""
	case "1":
		return CircleRoleAdmin
	case "2":
		return CircleRoleAssistantAdmin
	case "3":
		return CircleRoleMember
	case "4":
		return CircleRolePending
	}
	return s
}

func convertCircles(xs []xmlCircleInverse) []CircleInfo {
	var out []CircleInfo
	for _, x := range xs {
		id := strings.ToLower(strings.TrimSpace(x.ID))
		if id == "" || isTrue(x.Deleted) {
			continue
		}
		out = append(out, CircleInfo{ID: id, Name: strings.TrimSpace(x.Name), Role: circleRole(x.Role), State: circleState(x.State)})
	}
	return out
}

func convertNetworks(xs []xmlNetworkInfo) []NetworkInfo {
	var out []NetworkInfo
	for _, x := range xs {
		out = append(out, NetworkInfo{
			DomainTag:      strings.ToLower(strings.TrimSpace(x.DomainTag)),
			State:          circleState(x.State),
			Role:           circleRole(x.Role),
			InviterEmail:   strings.TrimSpace(x.InviterEmail),
			InviterName:    strings.TrimSpace(x.InviterName),
			InviterMessage: strings.TrimSpace(x.InviterMessage),
		})
	}
	return out
}

// CircleInvitation returns the inviter recorded on the hidden Circle
// contact of a circle in the default address book, if any.
func (ab *AddressBook) CircleInvitation(circleID string) (NetworkInfo, bool) {
	for _, c := range ab.Contacts {
		if c.Type != ContactCircle {
			continue
		}
		for _, n := range c.Networks {
			if strings.EqualFold(n.DomainTag, circleID) || strings.EqualFold(c.ID, circleID) {
				return n, true
			}
		}
	}
	return NetworkInfo{}, false
}

// CircleMember is one entry of a circle's address book.
type CircleMember struct {
	ContactID   string
	Email       string
	DisplayName string
	Type        ContactType // Live, LivePending, Me
	State       string      // CircleState*
	Role        string      // CircleRole*
}

func checkCircleID(action, id string) (string, error) {
	id = strings.ToLower(strings.TrimSpace(id))
	const prefix = "00000000-0000-0000-0009-"
	if len(id) != len(prefix)+12 || !strings.HasPrefix(id, prefix) || strings.Trim(id[len(prefix):], "0123456789abcdef") != "" {
		return "", fmt.Errorf("abch: %s: invalid circle id %q", action, id)
	}
	return id, nil
}

// ABFindCircle reads a circle's address book: its members and invitees.
func (c *Client) ABFindCircle(ctx context.Context, circleID string) ([]CircleMember, error) {
	id, err := checkCircleID("ABFindContactsPaged", circleID)
	if err != nil {
		return nil, err
	}
	body := `<filterOptions><DeltasOnly>false</DeltasOnly><LastChanged>0001-01-01T00:00:00.0000000</LastChanged>` +
		`<ContactFilter><IncludeHiddenContacts>true</IncludeHiddenContacts></ContactFilter></filterOptions>` +
		`<abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent>` +
		`<abHandle><ABId>` + id + `</ABId><Type>Group</Type><Cid>0</Cid></abHandle>`
	var env abFindContactsPagedEnvelope
	if err := c.call(ctx, c.cfg.ABServiceURL, "ABFindContactsPaged", "Initial", body, &env); err != nil {
		return nil, err
	}
	var out []CircleMember
	for _, x := range append(env.Result.Contacts, env.Result.ContactsPage...) {
		if isTrue(x.Deleted) {
			continue
		}
		ct := convertContact(&x)
		if ct.Email == "" || ct.Type == ContactCircle {
			continue
		}
		m := CircleMember{ContactID: ct.ID, Email: ct.Email, DisplayName: ct.DisplayName, Type: ct.Type}
		for _, n := range ct.Networks {
			if n.State != "" || n.Role != "" {
				m.State, m.Role = n.State, n.Role
				break
			}
		}
		if m.State == "" {
			switch ct.Type {
			case ContactLivePending:
				m.State = CircleStateWaiting
			default:
				m.State = CircleStateAccepted
			}
		}
		out = append(out, m)
	}
	return out, nil
}

// CreateCircle creates a circle (sharing service) and returns its id.
// publicName is the creator's display name shown to members.
func (c *Client) CreateCircle(ctx context.Context, name, publicName string) (string, error) {
	const action = "CreateCircle"
	n, err := escCircleName(action, name)
	if err != nil {
		return "", err
	}
	pn := xmlsafe.EscapeLossy(publicName)
	body := `<properties><Domain>1</Domain><HostedDomain>live.com</HostedDomain><Type>2</Type><MembershipAccess>0</MembershipAccess>` +
		`<IsPresenceEnabled>true</IsPresenceEnabled><RequestMembershipOption>2</RequestMembershipOption><DisplayName>` + n + `</DisplayName>` +
		`<ProfileLastUpdated>0001-01-01T00:00:00</ProfileLastUpdated><Changes></Changes><CreateDate>0001-01-01T00:00:00</CreateDate>` +
		`<LastChanged>0001-01-01T00:00:00</LastChanged></properties><callerInfo><PublicDisplayName>` + pn + `</PublicDisplayName></callerInfo>`
	var res struct {
		ID string `xml:"Body>CreateCircleResponse>CreateCircleResult>Id"`
	}
	if err := c.call(ctx, c.cfg.SharingServiceURL, action, "CircleSave", body, &res); err != nil {
		return "", err
	}
	id, err := checkCircleID(action, res.ID)
	if err != nil {
		return "", fmt.Errorf("abch: CreateCircle: response: %w", err)
	}
	return id, nil
}

// maxCircleName is the longest circle name accepted here (WLM's limit).
const maxCircleName = 64

func escCircleName(action, name string) (string, error) {
	return escBoundedName(action, "circle name", name, maxCircleName)
}

// CreateCircleContact adds email to a circle's address book (the first
// step of an invitation) and returns its contact id there.
func (c *Client) CreateCircleContact(ctx context.Context, circleID, email string) (string, error) {
	const action = "CreateContact"
	id, err := checkCircleID(action, circleID)
	if err != nil {
		return "", err
	}
	if err := checkEmail(email); err != nil {
		return "", fmt.Errorf("abch: %s: %w", action, err)
	}
	e, err := xmlsafe.Escape(email)
	if err != nil {
		return "", fmt.Errorf("abch: %s: email: %w", action, err)
	}
	body := `<abHandle><ABId>` + id + `</ABId><Puid>0</Puid><Cid>0</Cid></abHandle>` +
		`<contactHandle><Email>` + e + `</Email><Puid>0</Puid><Cid>0</Cid><CircleId>` + zeroABID + `</CircleId></contactHandle>`
	var res struct {
		ID string `xml:"Body>CreateContactResponse>CreateContactResult>contactId"`
	}
	if err := c.call(ctx, c.cfg.ABServiceURL, action, "CircleInvite", body, &res); err != nil {
		return "", err
	}
	cid := strings.TrimSpace(res.ID)
	if cid == "" {
		return "", errors.New("abch: CreateContact: response has no contact id")
	}
	return cid, nil
}

// InviteToCircle sends the invitation of a contact created in the circle
// (ManageWLConnection, relationship 5, role Member), with an optional
// message.
func (c *Client) InviteToCircle(ctx context.Context, circleID, contactID, message string) error {
	const action = "ManageWLConnection"
	id, err := checkCircleID(action, circleID)
	if err != nil {
		return err
	}
	cid, err := escID(action, "contact id", contactID)
	if err != nil {
		return err
	}
	var annotations string
	if message = strings.TrimSpace(message); message != "" {
		annotations = `<annotations><Annotation><Name>MSN.IM.InviteMessage</Name><Value>` + xmlsafe.EscapeLossy(message) + `</Value></Annotation></annotations>`
	}
	body := `<abHandle><ABId>` + id + `</ABId><Puid>0</Puid><Cid>0</Cid></abHandle><contactId>` + cid + `</contactId>` +
		`<connection>true</connection><presence>false</presence><action>1</action><relationshipType>5</relationshipType><relationshipRole>3</relationshipRole>` +
		annotations
	return c.call(ctx, c.cfg.ABServiceURL, action, "CircleInvite", body, nil)
}

// AnswerCircleInvitation accepts or declines an invitation to a circle
// (ManageWLConnection on the user's own address book).
func (c *Client) AnswerCircleInvitation(ctx context.Context, circleID string, accept bool) error {
	const action = "ManageWLConnection"
	id, err := checkCircleID(action, circleID)
	if err != nil {
		return err
	}
	act := `<action>2</action>`
	if accept {
		act = `<action>1</action><relationshipRole>0</relationshipRole>`
	}
	body := `<contactId>` + id + `</contactId><connection>true</connection><presence>false</presence>` + act + `<relationshipType>5</relationshipType>`
	return c.call(ctx, c.cfg.ABServiceURL, action, "CircleInvite", body, nil)
}

// LeaveCircle leaves a circle (BreakConnection); contactID is the user's
// own contact id in the circle's address book.
func (c *Client) LeaveCircle(ctx context.Context, circleID, contactID string) error {
	const action = "BreakConnection"
	id, err := checkCircleID(action, circleID)
	if err != nil {
		return err
	}
	cid, err := escID(action, "contact id", contactID)
	if err != nil {
		return err
	}
	body := `<abHandle><ABId>` + id + `</ABId><Puid>0</Puid><Cid>0</Cid></abHandle><contactId>` + cid + `</contactId>` +
		`<deleteContact>true</deleteContact><blockContact>false</blockContact>`
	return c.call(ctx, c.cfg.ABServiceURL, action, "CircleLeave", body, nil)
}
