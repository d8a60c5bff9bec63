// Package passport implements the HTTP side of MSN Messenger authentication:
// Passport 1.4 "Tweener" login (MSNP8-14) and Windows Live ID single sign-on
// through RST.srf / RST2.srf (MSNP15-18). It knows nothing of MSNP itself;
// the notification-server client calls it during USR.
//
// API:
//
//	NewHTTPClient(caFile, timeout) (*http.Client, error)   verified TLS, extra root CAs
//	NexusLookup(ctx, client, nexusURL) (loginURL, error)    PassportURLs DALogin
//	TweenerLogin(ctx, client, nexusURL, loginURL, email, password, challenge) (ticket, error)
//	RequestSecurityTokens(ctx, client, rstURL, v2, email, password, policy) (*Tokens, error)
//	Tokens.Get / Ticket / BinarySecret / MessengerClear / Contacts
//	ErrBadCredentials                                      wrong email or password
//	*FaultError                                            any other SOAP fault
//	*StatusError                                           unexpected HTTP status
//
// Failed authentication is reported as an error for which
// errors.Is(err, ErrBadCredentials) holds, whatever the transport shape
// (HTTP 401 for Tweener; a SOAP fault with HTTP 200 or 500 for RST).
//
// Logging goes to zerolog.Ctx(ctx) at debug level; passwords and tickets are
// never logged. Token and Tokens redact their secrets when formatted.
package passport
