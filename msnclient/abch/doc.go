// Package abch is a client for the MSN address book (ABCH) and sharing
// SOAP services used by MSNP13 and later: the forward list, groups and the
// user's own "Me" entry come from the address book service; the allow,
// block, reverse and pending lists from the sharing service. It knows
// nothing of MSNP; the notification-server client drives it after login.
//
// API:
//
//	New(Config) (*Client, error)
//	(*Client).FindMembership(ctx) (*Memberships, error)         AL/BL/RL/PL
//	(*Client).ABFindAll(ctx) (*AddressBook, error)              MSNP13-15
//	(*Client).ABFindContactsPaged(ctx) (*AddressBook, error)    MSNP16+
//	(*Client).ABContactAdd(ctx, email) (contactID, error)
//	(*Client).ABContactDelete(ctx, contactID) error
//	(*Client).AddMember(ctx, role, email) / DeleteMember(ctx, role, email, membershipID) error
//	(*Client).ABGroupAdd(ctx, name) (groupID, error) / ABGroupDelete / ABGroupUpdate
//	(*Client).ABGroupContactAdd(ctx, groupID, contactID) / ABGroupContactDelete
//	*Fault (SOAP fault, any HTTP status), IsFault(err, code)
//	*StatusError (HTTP error without SOAP body), ErrTicketRejected, ErrNoTicket
//
// Every request asks for full data (Escargot refuses deltas), every value
// sent is XML-escaped, and responses are size-limited and refused if they
// carry a DOCTYPE. Tickets are never logged.
package abch
