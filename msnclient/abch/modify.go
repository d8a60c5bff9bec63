package abch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

type guidResult struct {
	ContactAdd string `xml:"Body>ABContactAddResponse>ABContactAddResult>guid"`
	GroupAdd   string `xml:"Body>ABGroupAddResponse>ABGroupAddResult>guid"`
}

// checkEmail rejects values that cannot be an MSN account name.
func checkEmail(email string) error {
	if email == "" {
		return errors.New("empty email")
	}
	if strings.ContainsAny(email, " \t\r\n") || !strings.Contains(email, "@") {
		return fmt.Errorf("invalid email %q", email)
	}
	return nil
}

// ABContactAdd adds email to the address book (the forward list) as a
// Messenger contact and returns the new contact id.
func (c *Client) ABContactAdd(ctx context.Context, email string) (string, error) {
	if err := checkEmail(email); err != nil {
		return "", fmt.Errorf("abch: ABContactAdd: %w", err)
	}
	e, err := xmlsafe.Escape(email)
	if err != nil {
		return "", fmt.Errorf("abch: ABContactAdd: %w", err)
	}
	body := `<abId>` + zeroABID + `</abId>` +
		`<contacts><Contact><contactInfo>` +
		`<contactType>LivePending</contactType>` +
		`<passportName>` + e + `</passportName>` +
		`<isMessengerUser>true</isMessengerUser>` +
		`</contactInfo></Contact></contacts>` +
		`<options><EnableAllowListManagement>true</EnableAllowListManagement></options>`
	var res guidResult
	if err := c.call(ctx, c.cfg.ABServiceURL, "ABContactAdd", "ContactSave", body, &res); err != nil {
		return "", err
	}
	id := strings.TrimSpace(res.ContactAdd)
	if id == "" {
		return "", errors.New("abch: ABContactAdd: response has no contact id")
	}
	return id, nil
}

// ABContactDelete removes a contact (by contact id) from the address book.
func (c *Client) ABContactDelete(ctx context.Context, contactID string) error {
	id, err := escID("ABContactDelete", "contact id", contactID)
	if err != nil {
		return err
	}
	body := `<abId>` + zeroABID + `</abId>` +
		`<contacts><Contact><contactId>` + id + `</contactId></Contact></contacts>`
	return c.call(ctx, c.cfg.ABServiceURL, "ABContactDelete", "Timer", body, nil)
}

// AddMember adds email to a membership list (role) of the Messenger service.
func (c *Client) AddMember(ctx context.Context, role Role, email string) error {
	return c.member(ctx, "AddMember", role, email, "")
}

// DeleteMember removes email from a membership list (role). Deleting the
// Pending role is what clears a pending authorisation request.
// membershipID is the member's Member.MembershipID from FindMembership
// ("Role/<guid>"): Escargot finds passport members only by it; "" sends the
// PassportName alone, as Microsoft's service accepted.
func (c *Client) DeleteMember(ctx context.Context, role Role, email, membershipID string) error {
	return c.member(ctx, "DeleteMember", role, email, membershipID)
}

func (c *Client) member(ctx context.Context, action string, role Role, email, membershipID string) error {
	if !role.valid() {
		return fmt.Errorf("abch: %s: unknown role %q", action, role)
	}
	if err := checkEmail(email); err != nil {
		return fmt.Errorf("abch: %s: %w", action, err)
	}
	e, err := xmlsafe.Escape(email)
	if err != nil {
		return fmt.Errorf("abch: %s: email: %w", action, err)
	}
	var idXML string
	if membershipID != "" {
		id, err := escID(action, "membership id", membershipID)
		if err != nil {
			return err
		}
		idXML = `<MembershipId>` + id + `</MembershipId>`
	}
	body := `<serviceHandle><Id>0</Id><Type>Messenger</Type><ForeignId></ForeignId></serviceHandle>` +
		`<memberships><Membership><MemberRole>` + string(role) + `</MemberRole><Members>` +
		`<Member xsi:type="PassportMember" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">` +
		idXML + `<Type>Passport</Type><State>Accepted</State><PassportName>` + e + `</PassportName>` +
		`</Member></Members></Membership></memberships>`
	return c.call(ctx, c.cfg.SharingServiceURL, action, "BlockUnblock", body, nil)
}

// ABGroupAdd creates a group and returns its id.
func (c *Client) ABGroupAdd(ctx context.Context, name string) (string, error) {
	n, err := escName("ABGroupAdd", name)
	if err != nil {
		return "", err
	}
	body := `<abId>` + zeroABID + `</abId>` +
		`<groupAddOptions><fRenameOnMsgrConflict>false</fRenameOnMsgrConflict></groupAddOptions>` +
		`<groupInfo><GroupInfo><name>` + n + `</name>` +
		`<groupType>C8529CE2-6EAD-434d-881F-341E17DB3FF8</groupType><fMessenger>false</fMessenger>` +
		`<annotations><Annotation><Name>MSN.IM.Display</Name><Value>1</Value></Annotation></annotations>` +
		`</GroupInfo></groupInfo>`
	var res guidResult
	if err := c.call(ctx, c.cfg.ABServiceURL, "ABGroupAdd", "GroupSave", body, &res); err != nil {
		return "", err
	}
	id := strings.TrimSpace(res.GroupAdd)
	if id == "" {
		return "", errors.New("abch: ABGroupAdd: response has no group id")
	}
	return id, nil
}

// ABGroupUpdate renames a group.
func (c *Client) ABGroupUpdate(ctx context.Context, groupID, name string) error {
	id, err := escID("ABGroupUpdate", "group id", groupID)
	if err != nil {
		return err
	}
	n, err := escName("ABGroupUpdate", name)
	if err != nil {
		return err
	}
	body := `<abId>` + zeroABID + `</abId>` +
		`<groups><Group><groupId>` + id + `</groupId><groupInfo><name>` + n + `</name></groupInfo>` +
		`<propertiesChanged>GroupName</propertiesChanged></Group></groups>`
	return c.call(ctx, c.cfg.ABServiceURL, "ABGroupUpdate", "GroupSave", body, nil)
}

// ABGroupDelete deletes a group.
func (c *Client) ABGroupDelete(ctx context.Context, groupID string) error {
	id, err := escID("ABGroupDelete", "group id", groupID)
	if err != nil {
		return err
	}
	body := `<abId>` + zeroABID + `</abId><groupFilter><groupIds><guid>` + id + `</guid></groupIds></groupFilter>`
	return c.call(ctx, c.cfg.ABServiceURL, "ABGroupDelete", "Timer", body, nil)
}

// ABGroupContactAdd puts a contact into a group.
func (c *Client) ABGroupContactAdd(ctx context.Context, groupID, contactID string) error {
	return c.groupContact(ctx, "ABGroupContactAdd", groupID, contactID)
}

// ABGroupContactDelete takes a contact out of a group.
func (c *Client) ABGroupContactDelete(ctx context.Context, groupID, contactID string) error {
	return c.groupContact(ctx, "ABGroupContactDelete", groupID, contactID)
}

func (c *Client) groupContact(ctx context.Context, action, groupID, contactID string) error {
	gid, err := escID(action, "group id", groupID)
	if err != nil {
		return err
	}
	cid, err := escID(action, "contact id", contactID)
	if err != nil {
		return err
	}
	body := `<abId>` + zeroABID + `</abId>` +
		`<groupFilter><groupIds><guid>` + gid + `</guid></groupIds></groupFilter>` +
		`<contacts><Contact><contactId>` + cid + `</contactId></Contact></contacts>`
	return c.call(ctx, c.cfg.ABServiceURL, action, "GroupSave", body, nil)
}

func escID(action, what, id string) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", fmt.Errorf("abch: %s: empty %s", action, what)
	}
	e, err := xmlsafe.Escape(id)
	if err != nil {
		return "", fmt.Errorf("abch: %s: %s: %w", action, what, err)
	}
	return e, nil
}

// maxGroupName is the longest group name the service accepts.
const maxGroupName = 61

func escName(action, name string) (string, error) {
	return escBoundedName(action, "group name", name, maxGroupName)
}

// escBoundedName checks a name (not empty, at most limit characters,
// valid XML text) and escapes it.
func escBoundedName(action, what, name string, limit int) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", fmt.Errorf("abch: %s: empty %s", action, what)
	}
	if len([]rune(name)) > limit {
		return "", fmt.Errorf("abch: %s: %s longer than %d characters", action, what, limit)
	}
	e, err := xmlsafe.Escape(name)
	if err != nil {
		return "", fmt.Errorf("abch: %s: %s: %w", action, what, err)
	}
	return e, nil
}
