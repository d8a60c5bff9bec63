package abch

import (
	"context"
	"strings"
)

const findMembershipBody = `<serviceFilter><Types>` +
	`<ServiceType>Messenger</ServiceType><ServiceType>Invitation</ServiceType>` +
	`<ServiceType>SocialNetwork</ServiceType><ServiceType>Space</ServiceType>` +
	`<ServiceType>Profile</ServiceType>` +
	`</Types></serviceFilter>` +
	`<View>Full</View><deltasOnly>false</deltasOnly><lastChange>` + fullSyncSince + `</lastChange>`

type findMembershipEnvelope struct {
	Result findMembershipResult `xml:"Body>FindMembershipResponse>FindMembershipResult"`
}

type findMembershipResult struct {
	Services   []xmlService `xml:"Services>Service"`
	OwnerEmail string       `xml:"OwnerNamespace>Info>CreatorPassportName"`
}

type xmlService struct {
	Type        string          `xml:"Info>Handle>Type"`
	Deleted     string          `xml:"Deleted"`
	Memberships []xmlMembership `xml:"Memberships>Membership"`
}

type xmlMembership struct {
	Role    string      `xml:"MemberRole"`
	Members []xmlMember `xml:"Members>Member"`
}

type xmlMember struct {
	XSIType      string `xml:"type,attr"`
	MembershipID string `xml:"MembershipId"`
	Type         string `xml:"Type"`
	State        string `xml:"State"`
	Deleted      string `xml:"Deleted"`
	PassportName string `xml:"PassportName"`
	Email        string `xml:"Email"`
	CircleID     string `xml:"CircleId"`
	CID          string `xml:"CID"`
	DisplayName  string `xml:"DisplayName"`
}

// FindMembership fetches the Messenger membership lists (Allow, Block,
// Reverse, Pending) from the sharing service.
func (c *Client) FindMembership(ctx context.Context) (*Memberships, error) {
	var env findMembershipEnvelope
	err := c.call(ctx, c.cfg.SharingServiceURL, "FindMembership", "Initial", findMembershipBody, &env)
	if err != nil {
		return nil, err
	}
	return convertMemberships(&env.Result), nil
}

func convertMemberships(r *findMembershipResult) *Memberships {
	out := &Memberships{OwnerEmail: strings.TrimSpace(r.OwnerEmail)}
	for _, svc := range r.Services {
		typ := strings.TrimSpace(svc.Type)
		if (typ != "" && typ != "Messenger") || isTrue(svc.Deleted) {
			continue
		}
		for _, ms := range svc.Memberships {
			role := Role(strings.TrimSpace(ms.Role))
			for _, m := range ms.Members {
				if isTrue(m.Deleted) {
					continue
				}
				mem := Member{
					Role:         role,
					Type:         strings.TrimSpace(m.Type),
					Email:        strings.TrimSpace(m.PassportName),
					DisplayName:  strings.TrimSpace(m.DisplayName),
					MembershipID: strings.TrimSpace(m.MembershipID),
					CID:          strings.TrimSpace(m.CID),
					CircleID:     strings.TrimSpace(m.CircleID),
				}
				if mem.Email == "" {
					mem.Email = strings.TrimSpace(m.Email)
				}
				if mem.Type == "" {
					mem.Type = strings.TrimSuffix(m.XSIType, "Member")
				}
				if mem.Email == "" && mem.CircleID == "" {
					continue
				}
				out.Members = append(out.Members, mem)
			}
		}
	}
	return out
}

func isTrue(s string) bool {
	s = strings.TrimSpace(s)
	return strings.EqualFold(s, "true") || s == "1"
}
