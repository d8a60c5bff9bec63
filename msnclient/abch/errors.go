package abch

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoTicket means the ticket getter returned an empty ticket.
	ErrNoTicket = errors.New("abch: no ticket (log in first)")
	// ErrTicketRejected means the service refused the ticket (HTTP 401/403);
	// on Escargot this also happens when the NS session is gone.
	ErrTicketRejected = errors.New("abch: ticket rejected")
)

// Error codes found in Fault.ErrorCode.
const (
	FaultFullSyncRequired    = "FullSyncRequired"
	FaultInvalidPassportUser = "InvalidPassportUser"
	FaultContactExists       = "ContactAlreadyExists"
	FaultContactDoesNotExist = "ContactDoesNotExist"
	FaultEmailMissingAtSign  = "EmailMissingAtSign"
	FaultEmailMissingDot     = "EmailMissingDot"
	FaultGroupAlreadyExists  = "GroupAlreadyExists"
	FaultGroupNameTooLong    = "GroupNameTooLong"
	FaultMemberDoesNotExist  = "MemberDoesNotExist"
	FaultMemberAlreadyExists = "MemberAlreadyExists"
	FaultUserDoesNotExist    = "UserDoesNotExist"
	FaultForbidden           = "Forbidden"
)

// Fault is a SOAP fault from the address book or sharing service, whatever
// the HTTP status it came with (Escargot uses both 200 and 500).
type Fault struct {
	Action     string // the SOAP action called
	HTTPStatus int
	Code       string // faultcode, e.g. "soap:Client"
	Reason     string // faultstring
	ErrorCode  string // detail/errorcode, e.g. "FullSyncRequired"; "" if absent
}

func (f *Fault) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "abch: %s fault", f.Action)
	if f.ErrorCode != "" {
		b.WriteString(" " + f.ErrorCode)
	} else if f.Code != "" {
		b.WriteString(" " + f.Code)
	}
	if f.Reason != "" {
		b.WriteString(": " + f.Reason)
	}
	return b.String()
}

// IsFault reports whether err is (or wraps) a *Fault with the given error
// code (compared case-insensitively), e.g. IsFault(err, FaultFullSyncRequired).
func IsFault(err error, code string) bool {
	var f *Fault
	return errors.As(err, &f) && strings.EqualFold(f.ErrorCode, code)
}

// StatusError is an HTTP error response without a SOAP fault.
type StatusError struct {
	Action     string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("abch: %s: HTTP %d without SOAP fault", e.Action, e.StatusCode)
}

// Unwrap maps 401/403 to ErrTicketRejected.
func (e *StatusError) Unwrap() error {
	if e.StatusCode == 401 || e.StatusCode == 403 {
		return ErrTicketRejected
	}
	return nil
}
