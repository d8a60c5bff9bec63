package abch

import "strings"

// Role is a sharing-service membership role (an MSN list).
type Role string

// Roles of the Messenger service.
const (
	RoleAllow   Role = "Allow"   // AL
	RoleBlock   Role = "Block"   // BL
	RoleReverse Role = "Reverse" // RL: people who have us on their list
	RolePending Role = "Pending" // PL: people who added us and await our decision
)

func (r Role) valid() bool {
	switch r {
	case RoleAllow, RoleBlock, RoleReverse, RolePending:
		return true
	}
	return false
}

// Member is one entry of a membership list.
type Member struct {
	Role         Role
	Type         string // "Passport", "Email", "Circle", …
	Email        string // PassportName (or Email for email members)
	DisplayName  string // if the service gave one
	MembershipID string // e.g. "Allow/<guid>"; may be ""
	CID          string
	CircleID     string // for Circle members
}

// Memberships are the Messenger service's membership lists.
type Memberships struct {
	OwnerEmail string // CreatorPassportName, if given
	Members    []Member
}

// Role returns the members with the given role.
func (m *Memberships) Role(role Role) []Member {
	var out []Member
	for _, mem := range m.Members {
		if mem.Role == role {
			out = append(out, mem)
		}
	}
	return out
}

// Has reports whether email has the given role (case-insensitive).
func (m *Memberships) Has(role Role, email string) bool {
	for _, mem := range m.Members {
		if mem.Role == role && strings.EqualFold(mem.Email, email) {
			return true
		}
	}
	return false
}

// ContactType is an address book contact type.
type ContactType string

// Contact types seen in address books.
const (
	ContactMe          ContactType = "Me"
	ContactRegular     ContactType = "Regular"
	ContactCircle      ContactType = "Circle"
	ContactLive        ContactType = "Live"
	ContactLivePending ContactType = "LivePending"
)

// Contact is one address book entry.
type Contact struct {
	ID              string // contactId (GUID)
	Type            ContactType
	Email           string // passportName
	DisplayName     string // displayName (falls back to quickName)
	QuickName       string
	NickName        string // annotation AB.NickName
	CID             string
	IsMessengerUser bool
	GroupIDs        []string
	Annotations     map[string]string
	Networks        []NetworkInfo // NetworkInfoList (circle memberships)
}

// Group is an address book group.
type Group struct {
	ID         string
	Name       string
	IsFavorite bool
}

// AddressBook is the result of ABFindAll and ABFindContactsPaged.
type AddressBook struct {
	ABID         string
	OwnerEmail   string
	Me           *Contact  // the user's own entry (display name, MSN.IM.* settings); nil if absent
	Contacts     []Contact // all other entries (Regular, Circle, …)
	Groups       []Group
	CircleTicket string       // MSNP18 circle SignedTicket (unescaped XML), if any
	Circles      []CircleInfo // MSNP18 circles the user is in or invited to
}

// Contact returns the entry for an email (case-insensitive).
func (ab *AddressBook) Contact(email string) (Contact, bool) {
	for _, c := range ab.Contacts {
		if strings.EqualFold(c.Email, email) {
			return c, true
		}
	}
	return Contact{}, false
}
