package abch

import (
	"context"
	"strings"
)

const abFindAllBody = `<abId>` + zeroABID + `</abId><abView>Full</abView>` +
	`<deltasOnly>false</deltasOnly><lastChange>` + fullSyncSince + `</lastChange>`

const abFindContactsPagedBody = `<filterOptions><DeltasOnly>false</DeltasOnly>` +
	`<LastChanged>0001-01-01T00:00:00.0000000</LastChanged>` +
	`<ContactFilter><IncludeHiddenContacts>true</IncludeHiddenContacts></ContactFilter></filterOptions>` +
	`<abView>MessengerClient8</abView><extendedContent>AB AllGroups CircleResult</extendedContent>`

type abFindAllEnvelope struct {
	Result abResult `xml:"Body>ABFindAllResponse>ABFindAllResult"`
}

type abFindContactsPagedEnvelope struct {
	Result abResult `xml:"Body>ABFindContactsPagedResponse>ABFindContactsPagedResult"`
}

// abResult covers both find calls: ABFindAll uses lower-case container
// names (groups, contacts, ab), ABFindContactsPaged capitalised ones.
type abResult struct {
	Groups       []xmlGroup         `xml:"groups>Group"`
	GroupsPaged  []xmlGroup         `xml:"Groups>Group"`
	Contacts     []xmlContact       `xml:"contacts>Contact"`
	ContactsPage []xmlContact       `xml:"Contacts>Contact"`
	AB           xmlAB              `xml:"ab"`
	ABPaged      xmlAB              `xml:"Ab"`
	CircleTicket string             `xml:"CircleResult>CircleTicket"`
	Circles      []xmlCircleInverse `xml:"CircleResult>Circles>CircleInverseInfo"` // circles.go
}

type xmlAB struct {
	ID         string `xml:"abId"`
	OwnerEmail string `xml:"abInfo>ownerEmail"`
}

type xmlGroup struct {
	ID         string `xml:"groupId"`
	Name       string `xml:"groupInfo>name"`
	IsFavorite string `xml:"groupInfo>IsFavorite"`
	Deleted    string `xml:"fDeleted"`
}

type xmlContact struct {
	ID      string `xml:"contactId"`
	Deleted string `xml:"fDeleted"`
	Info    struct {
		Type            string           `xml:"contactType"`
		PassportName    string           `xml:"passportName"`
		DisplayName     string           `xml:"displayName"`
		QuickName       string           `xml:"quickName"`
		CID             string           `xml:"CID"`
		IsMessengerUser string           `xml:"isMessengerUser"`
		GroupIDs        []string         `xml:"groupIds>guid"`
		Annotations     []xmlAnnotation  `xml:"annotations>Annotation"`
		Networks        []xmlNetworkInfo `xml:"NetworkInfoList>NetworkInfo"` // circles.go
	} `xml:"contactInfo"`
}

type xmlAnnotation struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

// ABFindAll fetches the whole address book (MSNP13-15 clients).
func (c *Client) ABFindAll(ctx context.Context) (*AddressBook, error) {
	var env abFindAllEnvelope
	if err := c.call(ctx, c.cfg.ABServiceURL, "ABFindAll", "Initial", abFindAllBody, &env); err != nil {
		return nil, err
	}
	return convertAddressBook(&env.Result), nil
}

// ABFindContactsPaged fetches the whole address book the MSNP16+ way,
// including MSNP18 circles.
func (c *Client) ABFindContactsPaged(ctx context.Context) (*AddressBook, error) {
	var env abFindContactsPagedEnvelope
	if err := c.call(ctx, c.cfg.ABServiceURL, "ABFindContactsPaged", "Initial", abFindContactsPagedBody, &env); err != nil {
		return nil, err
	}
	return convertAddressBook(&env.Result), nil
}

func convertAddressBook(r *abResult) *AddressBook {
	ab := &AddressBook{CircleTicket: strings.TrimSpace(r.CircleTicket), Circles: convertCircles(r.Circles)}
	for _, x := range []xmlAB{r.AB, r.ABPaged} {
		if ab.ABID == "" {
			ab.ABID = strings.TrimSpace(x.ID)
		}
		if ab.OwnerEmail == "" {
			ab.OwnerEmail = strings.TrimSpace(x.OwnerEmail)
		}
	}
	for _, g := range append(r.Groups, r.GroupsPaged...) {
		id := strings.TrimSpace(g.ID)
		if id == "" || isTrue(g.Deleted) {
			continue
		}
		ab.Groups = append(ab.Groups, Group{ID: id, Name: strings.TrimSpace(g.Name), IsFavorite: isTrue(g.IsFavorite)})
	}
	for _, x := range append(r.Contacts, r.ContactsPage...) {
		if isTrue(x.Deleted) {
			continue
		}
		c := convertContact(&x)
		if c.Type == ContactMe {
			if ab.Me == nil {
				me := c
				ab.Me = &me
			}
			continue
		}
		if c.ID == "" && c.Email == "" {
			continue
		}
		ab.Contacts = append(ab.Contacts, c)
	}
	return ab
}

func convertContact(x *xmlContact) Contact {
	c := Contact{
		ID:              strings.TrimSpace(x.ID),
		Type:            ContactType(strings.TrimSpace(x.Info.Type)),
		Email:           strings.TrimSpace(x.Info.PassportName),
		DisplayName:     strings.TrimSpace(x.Info.DisplayName),
		QuickName:       strings.TrimSpace(x.Info.QuickName),
		CID:             strings.TrimSpace(x.Info.CID),
		IsMessengerUser: isTrue(x.Info.IsMessengerUser),
		Networks:        convertNetworks(x.Info.Networks),
	}
	if c.DisplayName == "" {
		c.DisplayName = c.QuickName
	}
	for _, g := range x.Info.GroupIDs {
		if g = strings.TrimSpace(g); g != "" {
			c.GroupIDs = append(c.GroupIDs, g)
		}
	}
	for _, a := range x.Info.Annotations {
		name := strings.TrimSpace(a.Name)
		if name == "" {
			continue
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[name] = a.Value
		if name == "AB.NickName" {
			c.NickName = strings.TrimSpace(a.Value)
		}
	}
	return c
}
