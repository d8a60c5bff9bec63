// Package oim is a client for the MSN offline message store web service
// (ows.messenger.msn.com/OimWS/oim.asmx): it stores one offline message for
// a contact who is not signed in, answering the service's lock-key
// challenge with the MSNP11 challenge algorithm. It knows nothing of MSNP;
// the notification-server client splits long texts and calls Store.
//
// API:
//
//	New(Config) (*Client, error)
//	(*Client).Store(ctx, Message) error
//	MaxText (bytes of text per message), NewRunID()
//	*Fault (SOAP fault), IsFault(err, code), ErrNoTicket, ErrLockKey
package oim
