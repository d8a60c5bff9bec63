package bridge

import (
	"context"
	"fmt"
	"strings"

	"go.mau.fi/util/ptr"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/event"
)

// GetChatInfo implements bridgev2.NetworkAPI.
func (m *MSNClient) GetChatInfo(ctx context.Context, portal *bridgev2.Portal) (*bridgev2.ChatInfo, error) {
	if contact, ok := dmContact(portal.ID); ok {
		return m.dmChatInfo(ctx, contact), nil
	}
	if id, ok := circleOfPortal(portal.ID); ok {
		return m.circleInfo(ctx, portal, id)
	}
	row, err := m.connector.DB.GroupPortal.GetByPortalID(ctx, string(m.login.ID), string(portal.ID))
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, fmt.Errorf("unknown group portal %s", portal.ID)
	}
	if meta, ok := portal.Metadata.(*PortalMetadata); ok && len(meta.Participants) == 0 {
		meta.Participants = row.Participants
	}
	members := &bridgev2.ChatMemberList{MemberMap: bridgev2.ChatMemberMap{}}
	names := make([]string, 0, len(row.Participants))
	for _, p := range row.Participants {
		members.MemberMap.Set(m.chatMember(p, event.MembershipJoin))
		names = append(names, m.friendlyName(ctx, p))
	}
	members.MemberMap.Set(m.selfMember())
	return &bridgev2.ChatInfo{
		Name:    ptr.Ptr(groupName(names)),
		Type:    ptr.Ptr(database.RoomTypeGroupDM),
		Members: members,
	}, nil
}

// dmChatInfo is the info of the DM portal with contact.
func (m *MSNClient) dmChatInfo(ctx context.Context, contact string) *bridgev2.ChatInfo {
	members := &bridgev2.ChatMemberList{
		IsFull:      true,
		OtherUserID: makeUserID(contact),
		MemberMap:   bridgev2.ChatMemberMap{},
	}
	members.MemberMap.Set(m.chatMemberWithName(contact, m.friendlyName(ctx, contact), event.MembershipJoin))
	members.MemberMap.Set(m.selfMember())
	return &bridgev2.ChatInfo{
		Type:    ptr.Ptr(database.RoomTypeDM),
		Members: members,
		ExtraUpdates: func(_ context.Context, portal *bridgev2.Portal) bool {
			go m.addPortalToGroupSpaces(portal)
			return false
		},
	}
}

// groupName names a group portal after its first participants.
func groupName(names []string) string {
	switch len(names) {
	case 0:
		return "MSN group chat"
	case 1, 2, 3:
		return strings.Join(names, ", ")
	default:
		return fmt.Sprintf("%s and %d others", strings.Join(names[:3], ", "), len(names)-3)
	}
}

// GetUserInfo implements bridgev2.NetworkAPI.
func (m *MSNClient) GetUserInfo(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.UserInfo, error) {
	email := parseUserID(ghost.ID)
	return m.userInfo(email, m.friendlyName(ctx, email)), nil
}

// userInfo is the ghost info of a contact.
func (m *MSNClient) userInfo(email, friendlyName string) *bridgev2.UserInfo {
	return &bridgev2.UserInfo{
		Identifiers: []string{makeIdentifier(email)},
		Name:        ptr.Ptr(m.connector.Config.FormatDisplayname(cleanLine(friendlyName), normalizeEmail(email))),
		IsBot:       ptr.Ptr(false),
	}
}

// friendlyName is the best known MSN name of a contact ("" when unknown).
func (m *MSNClient) friendlyName(ctx context.Context, email string) string {
	email = normalizeEmail(email)
	if cl, err := m.client(); err == nil {
		if c, ok := cl.Contact(email); ok && c.FriendlyName != "" && c.FriendlyName != email {
			return c.FriendlyName
		}
	}
	if name, ok := m.names.load(email); ok {
		return name
	}
	if c, err := m.connector.DB.Contact.Get(ctx, string(m.login.ID), email); err == nil && c != nil {
		return c.FriendlyName
	}
	return ""
}

// rememberName keeps a name seen in a message or join for later lookups.
func (m *MSNClient) rememberName(email, name string) {
	if name == "" {
		return
	}
	m.names.store(normalizeEmail(email), name)
}

// updateGhostName pushes a contact's new friendly name to its ghost.
func (m *MSNClient) updateGhostName(ctx context.Context, email, name string) {
	if m.connector.Bridge == nil || normalizeEmail(email) == normalizeEmail(m.meta.Email) {
		return
	}
	ghost, err := m.connector.Bridge.GetGhostByID(ctx, makeUserID(email))
	if err != nil {
		m.log.Err(err).Str("contact", email).Msg("Failed to get ghost")
		return
	}
	ghost.UpdateInfo(ctx, m.userInfo(email, name))
}

// chatMember is a contact as a portal member.
func (m *MSNClient) chatMember(email string, membership event.Membership) bridgev2.ChatMember {
	name, _ := m.names.load(normalizeEmail(email))
	return m.chatMemberWithName(email, name, membership)
}

func (m *MSNClient) chatMemberWithName(email, name string, membership event.Membership) bridgev2.ChatMember {
	member := bridgev2.ChatMember{
		EventSender: bridgev2.EventSender{Sender: makeUserID(email)},
		Membership:  membership,
	}
	if name != "" {
		member.UserInfo = m.userInfo(email, name)
	}
	return member
}

// selfMember is the user as a portal member.
func (m *MSNClient) selfMember() bridgev2.ChatMember {
	return bridgev2.ChatMember{
		EventSender: bridgev2.EventSender{IsFromMe: true, SenderLogin: m.login.ID, Sender: m.selfUserID()},
		Membership:  event.MembershipJoin,
	}
}
