package msnp

import "fmt"

// ServerError is a numeric error reply ("911 5").
type ServerError struct {
	Code int
	TrID string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("msn server error %d: %s", e.Code, ErrorText(e.Code))
}

// Is makes errors.Is(err, &ServerError{Code: n}) match by code.
func (e *ServerError) Is(target error) bool {
	t, ok := target.(*ServerError)
	return ok && t.Code == e.Code
}

var errorTexts = map[int]string{
	200: "syntax error",
	201: "invalid parameter",
	204: "invalid network id",
	205: "invalid user",
	206: "domain name missing",
	207: "already logged in",
	208: "invalid user",
	209: "invalid friendly name",
	210: "contact list full",
	213: "invalid rename request",
	215: "already on the list",
	216: "not on the list",
	217: "contact is not online",
	218: "already in that mode",
	219: "contact is in the opposite list",
	223: "too many groups",
	224: "invalid group",
	225: "contact not in group",
	227: "group not empty",
	228: "group already exists",
	229: "group name too long",
	230: "cannot remove group zero",
	240: "empty domain",
	241: "invalid contact list XML",
	280: "switchboard failed",
	281: "transfer to switchboard failed",
	282: "P2P error",
	300: "required field missing",
	302: "not logged in",
	402: "contact list error",
	403: "contact list error",
	420: "invalid account permissions",
	500: "internal server error",
	501: "database server error",
	502: "command disabled",
	510: "file operation failed",
	511: "account banned",
	520: "memory allocation failed",
	540: "challenge response failed",
	600: "server is busy",
	601: "server is unavailable",
	602: "peer notification server down",
	603: "database connection failed",
	604: "server is going down",
	605: "server unavailable",
	700: "could not create connection",
	710: "bad CVR parameters",
	711: "write is blocking",
	712: "session is overloaded",
	713: "calling too rapidly",
	714: "too many sessions",
	715: "not expected",
	717: "bad friend file",
	731: "badly formatted CVR",
	800: "changing too rapidly",
	910: "server too busy",
	911: "authentication failed",
	912: "server too busy",
	913: "not allowed while offline",
	914: "server unavailable",
	915: "server unavailable",
	916: "server unavailable",
	917: "authentication failed",
	918: "server too busy",
	919: "server too busy",
	920: "not accepting new users",
	921: "server too busy",
	922: "server too busy",
	923: "kids passport without parental consent",
	924: "passport account not yet verified",
	928: "bad ticket",
	931: "account not on this server",
	933: "invalid circle membership",
}

// ErrorText returns a human description of an MSN error code.
func ErrorText(code int) string {
	if t, ok := errorTexts[code]; ok {
		return t
	}
	return "unknown error"
}
