package passport

import (
	"errors"
	"fmt"
	"strings"
)

// ErrBadCredentials means the server rejected the email or password.
var ErrBadCredentials = errors.New("passport: wrong email or password")

// StatusError is an HTTP response with an unexpected status and no usable body.
type StatusError struct {
	Op         string // what was being done, e.g. "tweener login"
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("passport: %s: unexpected HTTP status %d", e.Op, e.StatusCode)
}

// FaultError is a SOAP fault returned by the security token service.
type FaultError struct {
	Code      string // faultcode (SOAP 1.1) or Code/Value (SOAP 1.2), e.g. "wsse:FailedAuthentication"
	Subcode   string // SOAP 1.2 Code/Subcode/Value, e.g. "wst:FailedAuthentication"
	Reason    string // faultstring or Reason/Text
	ErrorCode string // psf:error/psf:value or psf:reqstatus, e.g. "0x80048821"
	Detail    string // psf:internalerror/psf:text, if any
}

func (e *FaultError) Error() string {
	var b strings.Builder
	b.WriteString("passport: security token service fault")
	for _, s := range []string{e.Code, e.Subcode, e.ErrorCode} {
		if s != "" {
			b.WriteString(" ")
			b.WriteString(s)
		}
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.Detail != "" {
		b.WriteString(" (")
		b.WriteString(e.Detail)
		b.WriteString(")")
	}
	return b.String()
}

// authFailureCodes are Passport error codes meaning "wrong email or password".
var authFailureCodes = map[string]bool{
	"0x80048821": true, // PPCRL_REQUEST_E_BAD_MEMBER_NAME_OR_PASSWORD
	"0x80048823": true, // PPCRL_REQUEST_E_PASSWORD_LOCKED_OUT / Escargot's RST auth failure
	"0x80041012": true, // internal: entered and stored passwords do not match
	"0x80041034": true, // internal: member name does not exist
}

// IsAuthFailure reports whether the fault means the credentials were rejected.
func (e *FaultError) IsAuthFailure() bool {
	for _, s := range []string{e.Code, e.Subcode} {
		if strings.Contains(strings.ToLower(s), "failedauthentication") {
			return true
		}
	}
	return authFailureCodes[strings.ToLower(e.ErrorCode)]
}

// Unwrap makes errors.Is(err, ErrBadCredentials) true for authentication faults.
func (e *FaultError) Unwrap() error {
	if e.IsAuthFailure() {
		return ErrBadCredentials
	}
	return nil
}
