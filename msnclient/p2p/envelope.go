package p2p

import (
	"bytes"
	"fmt"
	"strings"
)

// ContentType is the MIME type of P2P switchboard messages.
const ContentType = "application/x-msnmsgrp2p"

// Envelope is the MIME part of a P2P switchboard message.
type Envelope struct {
	Dest string // P2P-Dest: "email" (P2Pv1) or "email;{guid}" (P2Pv2 peers)
	Src  string // P2P-Src, sent by P2Pv2 peers only
	Body []byte // binary header, data and footer
}

// DestEmail returns the lower-cased email of P2P-Dest.
func (e *Envelope) DestEmail() string { return splitEndpoint(e.Dest) }

// DestGUID returns the endpoint GUID of P2P-Dest (lower case, no braces),
// "" when it has none.
func (e *Envelope) DestGUID() string { return endpointGUID(e.Dest) }

func splitEndpoint(s string) string {
	s, _, _ = strings.Cut(s, ";")
	return strings.ToLower(strings.TrimSpace(s))
}

func endpointGUID(s string) string {
	_, g, ok := strings.Cut(s, ";")
	if !ok {
		return ""
	}
	return strings.ToLower(strings.Trim(strings.TrimSpace(g), "{}"))
}

// ParseEnvelope splits a switchboard MSG payload into its P2P headers and
// binary body. It fails when the content type is not P2P or the header
// block does not end.
func ParseEnvelope(payload []byte) (*Envelope, error) {
	i := bytes.Index(payload, []byte("\r\n\r\n"))
	if i < 0 {
		return nil, fmt.Errorf("%w: no end of the MIME headers", ErrBadPacket)
	}
	env := &Envelope{Body: payload[i+4:]}
	isP2P := false
	for _, line := range strings.Split(string(payload[:i]), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-type":
			ct, _, _ := strings.Cut(value, ";")
			isP2P = strings.EqualFold(strings.TrimSpace(ct), ContentType)
		case "p2p-dest":
			env.Dest = value
		case "p2p-src":
			env.Src = value
		}
	}
	if !isP2P {
		return nil, fmt.Errorf("%w: content type is not %s", ErrBadPacket, ContentType)
	}
	return env, nil
}

// AppendEnvelope appends the MIME headers of a P2P message to dest (an
// email, no CR/LF) and then body.
func AppendEnvelope(b []byte, dest string, body []byte) []byte {
	dest = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return -1
		}
		return r
	}, dest)
	b = append(b, "MIME-Version: 1.0\r\nContent-Type: "+ContentType+"\r\nP2P-Dest: "+dest+"\r\n\r\n"...)
	return append(b, body...)
}
