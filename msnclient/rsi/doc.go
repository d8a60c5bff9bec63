// Package rsi is a client for the MSN offline message retrieval web service
// (RSI, rsi.hotmail.com/rsi/rsi.asmx) and the parsers of what it and the
// notification server hand out: the Mail-Data list of waiting offline
// messages and the RFC 822 text of one offline message. It knows nothing of
// MSNP; the notification-server client passes it the Mail-Data it received.
//
// API:
//
//	ParseMailData(value) (*MailData, error)        the Mail-Data value of an NS notification
//	ParseMetadata(md []byte) ([]Metadata, error)   an <MD> document
//	ParseMessage(raw []byte) (*Message, error)     one GetMessage result (MIME, RFC 2047, base64/QP, charsets)
//	New(Config) (*Client, error)
//	(*Client).GetMetadata(ctx) ([]Metadata, error)
//	(*Client).GetMessage(ctx, id) (*Message, error)
//	(*Client).DeleteMessages(ctx, ids) error
//	*Fault (SOAP fault), ErrNoTicket, ErrBadMessage
//
// Responses are size-limited and refused if they carry a DOCTYPE; tickets
// are never logged.
package rsi
