// Package msnclient is an MSN Messenger (MSNP8 to MSNP18) client library: the
// notification server session (login, contact list, presence) and switchboard
// conversations. It knows nothing of Matrix.
//
// One Client is one MSN account. Events reach the caller through one
// EventHandler, called from a single goroutine that never blocks the
// connection readers.
//
// Files are named by the half of the protocol they belong to: ns_*.go is the
// notification server (login, session, contact list, presence), sb_*.go the
// switchboards (conversations, switchboard connections, ringing, chunking).
// The remaining files (client, api, events, message, format, dialect) are
// shared by both.
package msnclient

import (
	"errors"
	"fmt"
	"time"
)

// This file is the public contract of the package: the types the bridge and
// msncli build on. Behaviour lives in the other files.

// Status is an MSN presence status code.
type Status string

// Presence statuses.
const (
	StatusOnline      Status = "NLN"
	StatusBusy        Status = "BSY"
	StatusIdle        Status = "IDL"
	StatusBeRightBack Status = "BRB"
	StatusAway        Status = "AWY"
	StatusOnThePhone  Status = "PHN"
	StatusOutToLunch  Status = "LUN"
	StatusInvisible   Status = "HDN"
	StatusOffline     Status = "FLN"
)

// Network identifies the network of a contact.
type Network int

// Networks.
const (
	NetworkMSN   Network = 1
	NetworkYahoo Network = 32
)

// Lists is a bit set of the contact lists a contact is on.
type Lists uint8

// List bits, as on the wire (ADL l= and LST).
const (
	ListForward Lists = 1  // FL: my contacts
	ListAllow   Lists = 2  // AL: may see me
	ListBlock   Lists = 4  // BL: blocked
	ListReverse Lists = 8  // RL: has me on their list
	ListPending Lists = 16 // PL: added me, not yet answered
)

// Contact is one entry of the contact list, in the same form for every dialect.
type Contact struct {
	Email        string // lower-cased
	Network      Network
	FriendlyName string
	Lists        Lists
	Groups       []string // group ids
	ContactID    string   // GUID (MSNP10+ / address book), empty before
	// Last known presence.
	Status          Status
	PersonalMessage string
	CurrentMedia    string
	MSNObject       string // decoded XML, empty when none
	Capabilities    string // "caps" or "caps:capsex" as received
}

// Group is a contact group.
type Group struct {
	ID   string
	Name string
}

// Format is the whole-message formatting of an MSN text message
// (the X-MMS-IM-Format header).
type Format struct {
	Font        string
	Bold        bool
	Italic      bool
	Underline   bool
	Strike      bool
	Color       uint32 // 0xRRGGBB (converted from the wire's BGR order)
	Charset     int    // CS= value, usually 0 (ANSI) or 1 (default)
	PitchFamily int    // PF= value
	RightToLeft bool
}

// TextMessage is a text message with its formatting.
type TextMessage struct {
	Text   string
	Format Format
}

// DisconnectReason says why a session ended.
type DisconnectReason int

// Disconnect reasons.
const (
	ReasonConnectionLost DisconnectReason = iota // network error, dead connection, server closed without OUT
	ReasonOtherLogin                             // OUT OTH: signed in elsewhere
	ReasonServerShutdown                         // OUT SSD: server going down
	ReasonClosed                                 // Close was called
)

// Errors a caller must tell apart. Numeric server errors are *msnp.ServerError.
var (
	ErrBadCredentials    = errors.New("msn: wrong email or password")
	ErrSignedInElsewhere = errors.New("msn: signed in elsewhere")
	ErrNotConnected      = errors.New("msn: not connected")
	ErrTimeout           = errors.New("msn: server did not answer in time")
	ErrContactOffline    = errors.New("msn: contact is offline")
	// ErrNotDelivered: the server refused the message (NAK or an error
	// reply), or it could not be written; it was not delivered.
	ErrNotDelivered = errors.New("msn: message not acknowledged")
	// ErrDeliveryUnconfirmed is matched by an *UnconfirmedError: the
	// message was written to the switchboard but never acknowledged. It may
	// have been delivered; it is not sent again, because MSN messages carry
	// no id a receiver could use to drop a duplicate.
	ErrDeliveryUnconfirmed = errors.New("msn: message may not have been delivered")
	// ErrAddressRefused is wrapped by the error of a switchboard or
	// redirect address that is neither the configured server's host nor
	// allowed by Config.AllowedHosts.
	ErrAddressRefused = errors.New("msn: server address not allowed")
	// ErrInsecureURL is wrapped by the error of a login URL (configured,
	// or the DALogin of a nexus) that is not HTTPS while
	// Config.AllowPlainHTTP is off.
	ErrInsecureURL = errors.New("msn: login URL is not HTTPS")
	// ErrIncompleteMessage is the UnknownMessage.Err of a chunked message
	// that could not be put back together (parts missing or out of
	// bounds).
	ErrIncompleteMessage = errors.New("msn: incomplete chunked message")
)

// UnconfirmedError is returned by a send whose message was written to the
// switchboard without an acknowledgement coming back: the switchboard
// closed (Late false) or the server did not answer before the request
// timeout or the caller's context ended (Late true). errors.Is matches
// ErrDeliveryUnconfirmed, and Err (ErrTimeout, a context error or a
// closed-switchboard error) too. When Late is set and the acknowledgement
// still arrives, a MessageAcknowledged event with the same ID follows.
type UnconfirmedError struct {
	ID   uint64 // unique per Client
	Late bool   // an acknowledgement may still arrive
	Err  error
}

func (e *UnconfirmedError) Error() string {
	return fmt.Sprintf("%s: %v", ErrDeliveryUnconfirmed, e.Err)
}

// Is makes errors.Is(err, ErrDeliveryUnconfirmed) true.
func (e *UnconfirmedError) Is(target error) bool { return target == ErrDeliveryUnconfirmed }

// Unwrap returns why no acknowledgement came.
func (e *UnconfirmedError) Unwrap() error { return e.Err }

// EventHandler receives every event of a Client, one at a time, in order.
type EventHandler func(evt any)

// Events. All are passed as pointers.

// Connected is sent when login has completed and the contact list is loaded.
type Connected struct {
	Version int // negotiated dialect, e.g. 18
}

// Disconnected is sent once when a session ends.
type Disconnected struct {
	Reason DisconnectReason
	Err    error
}

// ContactPresence is a contact's status, name or picture, initial or changed.
type ContactPresence struct {
	Email        string
	Status       Status // StatusOffline when the contact signed out
	FriendlyName string
	Capabilities string
	MSNObject    string
	Initial      bool // part of the burst after login
}

// PersonalMessage is a contact's personal message and current media.
type PersonalMessage struct {
	Email        string
	Message      string
	CurrentMedia string
}

// ContactListChanged is sent when the server changed the contact list (a
// contact added or removed from another endpoint, an address-book NOT).
// Client.Contacts returns the new list.
type ContactListChanged struct{}

// ContactRequest is sent when someone added us ("X added you").
type ContactRequest struct {
	Email        string
	FriendlyName string
	Message      string
}

// OwnProfile is sent when our own friendly name or personal message changed,
// possibly from another endpoint of ours (MPOP).
type OwnProfile struct {
	FriendlyName    string
	PersonalMessage string
}

// ConversationEvent fields are shared by all switchboard events.
type ConversationEvent struct {
	// Participants is the set of other people in the conversation (our own
	// endpoints excluded), lower-cased and sorted, when the event happened.
	// It includes the people we addressed but could not reach (see
	// ParticipantUnreachable), so that the conversation keeps its identity.
	Participants []string
}

// MessageReceived is a text message in a conversation.
type MessageReceived struct {
	ConversationEvent
	From     string // lower-cased email; our own email for MPOP echoes
	FromName string
	FromSelf bool // sent by another endpoint of ours
	Message  TextMessage
	Time     time.Time
	// Emoticons are the custom emoticons the sender defined for this
	// message whose shortcut is in the text, longest shortcut first.
	Emoticons []Emoticon
}

// Typing is a typing notification.
type Typing struct {
	ConversationEvent
	From string
}

// Nudge is a nudge (buzz).
type Nudge struct {
	ConversationEvent
	From     string
	FromSelf bool
}

// Datacast is any other text/x-msnmsgr-datacast message (wink, voice clip).
type Datacast struct {
	ConversationEvent
	From string
	ID   int
	Data []byte // the whole MIME body
}

// UnknownMessage is a switchboard message of a content type we do not handle
// (invitations, ink...), with its raw MIME payload. It also reports
// a chunked message that could not be reassembled: Err is then set (wrapping
// ErrIncompleteMessage) and Raw holds the parts that arrived, joined.
type UnknownMessage struct {
	ConversationEvent
	From        string
	ContentType string
	Raw         []byte
	Err         error // nil unless the message arrived incomplete
	// RawTruncated is set when Raw was cut short (or dropped) because the
	// event handler fell behind and the queued raw payloads reached their
	// bound (1 MiB).
	RawTruncated bool
}

// ParticipantJoined is sent when someone joins a conversation.
type ParticipantJoined struct {
	ConversationEvent
	Email        string
	FriendlyName string
}

// ParticipantLeft is sent when someone leaves a conversation.
type ParticipantLeft struct {
	ConversationEvent
	Email string
}

// MessageAcknowledged is sent when the server answered a message after its
// send had returned an *UnconfirmedError with Late set: Delivered is true
// for an acknowledgement, false for a refusal (NAK).
type MessageAcknowledged struct {
	ConversationEvent
	ID        uint64 // UnconfirmedError.ID
	Delivered bool
}

// ParticipantUnreachable is sent when opening a conversation with several
// people could not invite one of them (offline, blocked us, unknown): the
// conversation goes on with the others, and ConversationEvent.Participants
// still counts the unreachable person, who is invited again by a later
// send once online. Err says why (ErrContactOffline for MSN error 217,
// else usually a *msnp.ServerError). A one-to-one conversation reports
// the failure as the send's error instead.
type ParticipantUnreachable struct {
	ConversationEvent
	Email string
	Err   error
}

// ConversationClosed is sent when a conversation's switchboard closed.
// Sending to the same participants later opens a new one.
type ConversationClosed struct {
	ConversationEvent
}
