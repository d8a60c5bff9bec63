package bridge

import (
	"context"
	"fmt"
	"strings"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/bridgev2"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// ResolveIdentifier implements bridgev2.IdentifierResolvingNetworkAPI: an
// identifier is an MSN email ("alice@hotmail.com" or "msn:alice@hotmail.com").
func (m *MSNClient) ResolveIdentifier(ctx context.Context, identifier string, createChat bool) (*bridgev2.ResolveIdentifierResponse, error) {
	email, err := parseIdentifier(identifier)
	if err != nil {
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("%s", err.Error()))
	}
	if email == normalizeEmail(m.meta.Email) {
		return nil, bridgev2.RespError(mautrix.MInvalidParam.WithMessage("That is your own MSN address"))
	}
	userID := makeUserID(email)
	ghost, err := m.connector.Bridge.GetGhostByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("get ghost of %s: %w", email, err)
	}
	resp := &bridgev2.ResolveIdentifierResponse{
		Ghost:    ghost,
		UserID:   userID,
		UserInfo: m.userInfo(email, m.friendlyName(ctx, email)),
	}
	if createChat {
		resp.Chat = &bridgev2.CreateChatResponse{
			PortalKey:  makeDMPortalKey(email, m.login.ID),
			PortalInfo: m.dmChatInfo(ctx, email),
		}
	}
	return resp, nil
}

// CreateChatWithGhost implements bridgev2.GhostDMCreatingNetworkAPI (a Matrix
// user inviting a contact's ghost to a new room).
// A room the user made with several contacts' ghosts becomes their group
// chat instead (see groupdm.go).
func (m *MSNClient) CreateChatWithGhost(ctx context.Context, ghost *bridgev2.Ghost) (*bridgev2.CreateChatResponse, error) {
	if chat, err := m.groupDMChat(ctx, ghost); err != nil || chat != nil {
		return chat, err
	}
	resp, err := m.ResolveIdentifier(ctx, parseUserID(ghost.ID), true)
	if err != nil {
		return nil, err
	}
	// The room that invited the ghost may already hold the first message,
	// sent before it was a portal: bridge it once the portal is set up.
	portal, err := m.connector.Bridge.GetPortalByKey(ctx, resp.Chat.PortalKey)
	if err != nil {
		return nil, fmt.Errorf("get portal of %s: %w", ghost.ID, err)
	}
	resp.Chat.Portal = portal
	m.catchUpNewDM(m.log.WithContext(m.backgroundCtx()), portal, ghost)
	return resp.Chat, nil
}

// GetContactList implements bridgev2.ContactListingNetworkAPI: the forward
// list (the user's MSN contacts).
func (m *MSNClient) GetContactList(ctx context.Context) ([]*bridgev2.ResolveIdentifierResponse, error) {
	contacts, err := m.forwardList(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*bridgev2.ResolveIdentifierResponse, 0, len(contacts))
	for _, c := range contacts {
		resp, err := m.contactResponse(ctx, c)
		if err != nil {
			return nil, err
		}
		out = append(out, resp)
	}
	return out, nil
}

// SearchUsers implements bridgev2.UserSearchingNetworkAPI: it searches the
// contact list by email and name.
func (m *MSNClient) SearchUsers(ctx context.Context, query string) ([]*bridgev2.ResolveIdentifierResponse, error) {
	query = strings.ToLower(strings.TrimSpace(query))
	contacts, err := m.forwardList(ctx)
	if err != nil {
		return nil, err
	}
	var out []*bridgev2.ResolveIdentifierResponse
	for _, c := range contacts {
		if strings.Contains(c.Email, query) || strings.Contains(strings.ToLower(c.FriendlyName), query) {
			resp, err := m.contactResponse(ctx, c)
			if err != nil {
				return nil, err
			}
			out = append(out, resp)
		}
	}
	return out, nil
}

func (m *MSNClient) contactResponse(ctx context.Context, c msnclient.Contact) (*bridgev2.ResolveIdentifierResponse, error) {
	userID := makeUserID(c.Email)
	ghost, err := m.connector.Bridge.GetGhostByID(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("get ghost of %s: %w", c.Email, err)
	}
	return &bridgev2.ResolveIdentifierResponse{
		Ghost:    ghost,
		UserID:   userID,
		UserInfo: m.userInfo(c.Email, c.FriendlyName),
	}, nil
}

// forwardList returns the forward-list contacts, from the live session or,
// when offline, from the stored snapshot.
func (m *MSNClient) forwardList(ctx context.Context) ([]msnclient.Contact, error) {
	var all []msnclient.Contact
	if cl, err := m.client(); err == nil {
		all = cl.Contacts()
	} else {
		rows, err := m.connector.DB.Contact.GetAll(ctx, string(m.login.ID))
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			all = append(all, msnclient.Contact{
				Email:           r.Email,
				FriendlyName:    r.FriendlyName,
				Lists:           msnclient.Lists(r.Lists),
				Groups:          r.Groups,
				Status:          msnclient.Status(r.Status),
				PersonalMessage: r.PSM,
			})
		}
	}
	out := all[:0:0]
	for _, c := range all {
		if c.Lists&msnclient.ListForward != 0 && normalizeEmail(c.Email) != normalizeEmail(m.meta.Email) {
			c.Email = normalizeEmail(c.Email)
			out = append(out, c)
		}
	}
	return out, nil
}
