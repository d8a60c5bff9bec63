// Package p2p is the MSN peer-to-peer transport carried through
// switchboards (application/x-msnmsgrp2p): the P2P version 1 binary header
// and footer, chunking and reassembly, acknowledgements, MSNSLP signalling
// (INVITE, 200 OK, 603 Decline, BYE) and MSNObjects. Applications (display
// pictures, and later custom emoticons and files) are built on Manager.
//
// It knows nothing of switchboards: the caller gives the Manager a function
// that sends one MSG payload to a peer and hands it every P2P payload
// received.
package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// HeaderSize is the size of the P2P version 1 binary header.
const HeaderSize = 48

// FooterSize is the size of the footer (the application id, big-endian).
const FooterSize = 4

// Header flags (MSNPSharp's P2PFlag, libpurple's MsnP2PHeaderFlag).
const (
	FlagNormal       uint32 = 0x00
	FlagNegativeAck  uint32 = 0x01
	FlagAck          uint32 = 0x02
	FlagWaiting      uint32 = 0x04
	FlagError        uint32 = 0x08
	FlagFile         uint32 = 0x10
	FlagMSNObjData   uint32 = 0x20
	FlagCloseSession uint32 = 0x40
	FlagTLPError     uint32 = 0x80
	FlagDirectHS     uint32 = 0x100
	FlagWLM2009Comp  uint32 = 0x01000000
	FlagFileData     uint32 = 0x01000030
)

// Header is the P2P version 1 binary header. Every field is little-endian
// on the wire.
type Header struct {
	SessionID    uint32 // 0 for MSNSLP; the negotiated session for data
	Identifier   uint32 // message id, shared by all chunks of one message
	Offset       uint64 // offset of this chunk in the message
	TotalSize    uint64 // size of the whole message
	MessageSize  uint32 // bytes of data in this chunk
	Flags        uint32
	AckSessionID uint32 // a random unique id; in acks, the acked Identifier
	AckUniqueID  uint32 // in acks, the acked AckSessionID
	AckDataSize  uint64 // in acks, the acked TotalSize
}

// Packet is one P2P message chunk: header, data and footer.
type Packet struct {
	Header
	Data   []byte
	Footer uint32 // application id; 0 for MSNSLP and acks
}

// Errors of malformed packets.
var (
	ErrShortPacket = errors.New("p2p: packet shorter than header and footer")
	ErrBadPacket   = errors.New("p2p: malformed packet")
)

// ParseHeader decodes a 48-byte header.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrShortPacket
	}
	le := binary.LittleEndian
	return Header{
		SessionID:    le.Uint32(b[0:]),
		Identifier:   le.Uint32(b[4:]),
		Offset:       le.Uint64(b[8:]),
		TotalSize:    le.Uint64(b[16:]),
		MessageSize:  le.Uint32(b[24:]),
		Flags:        le.Uint32(b[28:]),
		AckSessionID: le.Uint32(b[32:]),
		AckUniqueID:  le.Uint32(b[36:]),
		AckDataSize:  le.Uint64(b[40:]),
	}, nil
}

// AppendHeader appends the wire form of h to b.
func (h Header) AppendHeader(b []byte) []byte {
	le := binary.LittleEndian
	b = le.AppendUint32(b, h.SessionID)
	b = le.AppendUint32(b, h.Identifier)
	b = le.AppendUint64(b, h.Offset)
	b = le.AppendUint64(b, h.TotalSize)
	b = le.AppendUint32(b, h.MessageSize)
	b = le.AppendUint32(b, h.Flags)
	b = le.AppendUint32(b, h.AckSessionID)
	b = le.AppendUint32(b, h.AckUniqueID)
	return le.AppendUint64(b, h.AckDataSize)
}

// IsAck reports whether the header is an acknowledgement.
func (h Header) IsAck() bool { return h.Flags&FlagAck != 0 }

// ParsePacket decodes the binary body of a P2P message (after the MIME
// headers) and checks that its sizes agree: MessageSize is the data length
// and the chunk lies within TotalSize. Data aliases b.
func ParsePacket(b []byte) (*Packet, error) {
	if len(b) < HeaderSize+FooterSize {
		return nil, ErrShortPacket
	}
	h, _ := ParseHeader(b)
	data := b[HeaderSize : len(b)-FooterSize]
	if uint64(h.MessageSize) != uint64(len(data)) {
		return nil, fmt.Errorf("%w: MessageSize %d but %d data bytes", ErrBadPacket, h.MessageSize, len(data))
	}
	if h.Offset > h.TotalSize || h.TotalSize-h.Offset < uint64(h.MessageSize) {
		return nil, fmt.Errorf("%w: chunk at %d of %d bytes exceeds the total of %d", ErrBadPacket, h.Offset, h.MessageSize, h.TotalSize)
	}
	return &Packet{
		Header: h,
		Data:   data,
		Footer: binary.BigEndian.Uint32(b[len(b)-FooterSize:]),
	}, nil
}

// AppendPacket appends the wire form of p (header, data, footer) to b.
func (p *Packet) AppendPacket(b []byte) []byte {
	b = p.AppendHeader(b)
	b = append(b, p.Data...)
	return binary.BigEndian.AppendUint32(b, p.Footer)
}
