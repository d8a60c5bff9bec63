package msntest

import (
	"context"
	"crypto/sha1" //nolint:gosec // the MSNObject checksum is SHA-1
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// This file scripts the rich content of Windows Live Messenger 8.5 for the
// scripted peer: winks, voice clips and handwritten (ink) messages, sent
// the way WLM sends them.

// scriptedMSGChunk is the body size of each part of a chunked switchboard
// message from WLM (Message-ID with Chunks/Chunk headers): the same 1,202
// bytes as its P2P chunks.
const scriptedMSGChunk = 1202

// inkSession is the P2P session id WLM sends one-to-one ink on, with no
// MSNSLP call before it.
const inkSession = 64

// noteAck passes the id of an acked message to a waiting SendP2PData.
func (sb *scriptedSB) noteAck(id uint32) {
	if sb.acks == nil {
		return
	}
	select {
	case sb.acks <- id:
	default:
	}
}

// Object types of MSNObjects (Type attribute).
const (
	scriptedWinkType  = 8
	scriptedVoiceType = 11
)

// objectFor returns the data of a served wink or voice clip whose SHA1D
// the request context names, or nil.
func (p *ScriptedPeer) objectFor(ctxText string) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	for sha1d, data := range p.objects {
		if strings.Contains(ctxText, `SHA1D="`+sha1d+`"`) {
			return data
		}
	}
	return nil
}

// serveObject makes data fetchable by its SHA1D and returns the msnobj
// element announcing it.
func (p *ScriptedPeer) serveObject(typ int, data []byte, location, friendly, extra string) string {
	sum := sha1.Sum(data) //nolint:gosec // format-defined
	sha1d := base64.StdEncoding.EncodeToString(sum[:])
	units := utf16.Encode([]rune(friendly))
	fb := make([]byte, 0, 2*len(units)+2)
	for _, u := range append(units, 0) {
		fb = binary.LittleEndian.AppendUint16(fb, u)
	}
	fr := base64.StdEncoding.EncodeToString(fb)
	c := "Creator" + p.email + "Size" + strconv.Itoa(len(data)) + "Type" + strconv.Itoa(typ) + "Location" + location +
		"Friendly" + fr + "SHA1D" + sha1d
	sumC := sha1.Sum([]byte(c)) //nolint:gosec // format-defined
	p.mu.Lock()
	if p.objects == nil {
		p.objects = make(map[string][]byte)
	}
	p.objects[sha1d] = data
	p.mu.Unlock()
	return fmt.Sprintf(`<msnobj Creator="%s" Size="%d" Type="%d" Location="%s" Friendly="%s" SHA1D="%s" SHA1C="%s"%s/>`,
		p.email, len(data), typ, location, fr, sha1d, base64.StdEncoding.EncodeToString(sumC[:]), extra)
}

// RichConversation is a switchboard the scripted peer opened with a
// contact to send rich content. It answers the contact's requests for the
// objects it announced until Close.
type RichConversation struct {
	p      *ScriptedPeer
	sb     *scriptedSB
	cancel context.CancelFunc
	done   chan struct{}
}

// OpenConversation opens a switchboard with contact (XFR SB, USR, CAL) and
// waits until they joined.
func (p *ScriptedPeer) OpenConversation(ctx context.Context, contact string) (*RichConversation, error) {
	sb, err := p.openSB(ctx, contact)
	if err != nil {
		return nil, err
	}
	sb.acks = make(chan uint32, 64) // before serveObjects reads it
	sctx, cancel := context.WithCancel(context.Background())
	rc := &RichConversation{p: p, sb: sb, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(rc.done)
		defer sb.conn.Close()
		stop := context.AfterFunc(sctx, func() { _ = sb.conn.Close() })
		defer stop()
		go func() {
			select {
			case <-p.closed:
				cancel()
			case <-sctx.Done():
			}
		}()
		sb.serveObjects(sctx)
	}()
	return rc, nil
}

// Close leaves the switchboard.
func (rc *RichConversation) Close() {
	_ = rc.sb.w.WriteCommand(msnp.New("OUT"))
	rc.cancel()
	<-rc.done
}

// sendMSG sends a message payload (headers with MIME-Version and
// Content-Type, a blank line, the body) with ack mode N, split like WLM
// into parts of scriptedMSGChunk body bytes when it does not fit in one
// switchboard message.
func (rc *RichConversation) sendMSG(head string, body []byte) {
	if len(head)+4+len(body) <= sbMaxPayload {
		rc.write(append([]byte(head+"\r\n\r\n"), body...))
		return
	}
	id := fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", randU32(), randU32()&0xffff, randU32()&0xffff, randU32()&0xffff, randU32())
	n := (len(body) + scriptedMSGChunk - 1) / scriptedMSGChunk
	for i := 0; i < n; i++ {
		part := body[i*scriptedMSGChunk : min((i+1)*scriptedMSGChunk, len(body))]
		h := fmt.Sprintf("Message-ID: %s\r\nChunk: %d", id, i)
		if i == 0 {
			h = fmt.Sprintf("%s\r\nMessage-ID: %s\r\nChunks: %d", head, id, n)
		}
		rc.write(append([]byte(h+"\r\n\r\n"), part...))
	}
}

func (rc *RichConversation) write(payload []byte) {
	rc.sb.mu.Lock()
	rc.sb.trid++
	trid := rc.sb.trid
	rc.sb.mu.Unlock()
	_ = rc.sb.w.WriteCommand(msnp.NewPayload("MSG", payload, strconv.Itoa(trid), "N"))
}

// datacastHead is the header block of a datacast.
const datacastHead = "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast"

// SendWink sends a wink as WLM does: a datacast ID 2 whose Data is the
// wink's MSNObject (Type 8, with the signature stamp that makes it too long
// for one message, so it goes in three chunks), then serves the wink (a
// CAB archive) to the contact when they ask for it over P2P. name is the
// wink's friendly name. It returns the MSNObject sent.
func (rc *RichConversation) SendWink(cab []byte, name string) string {
	// WLM's stamp is a base64 PKCS#7 signature of some 2,900 characters.
	stamp := make([]byte, 2150)
	for i := range stamp {
		stamp[i] = byte(randU32())
	}
	obj := rc.p.serveObject(scriptedWinkType, cab, "TFR1B4.tmp", name, ` stamp="`+base64.StdEncoding.EncodeToString(stamp)+`"`)
	rc.sendMSG(datacastHead, []byte("ID: 2\r\nData: "+obj+"\r\n\r\n"))
	return obj
}

// SendWinkUnavailable sends a wink datacast like SendWink but does not
// serve the wink: the contact's request for it is declined (603), as by a
// client that deleted it.
func (rc *RichConversation) SendWinkUnavailable(cab []byte, name string) string {
	obj := rc.p.serveObject(scriptedWinkType, cab, "TFR1B5.tmp", name, "")
	sum := sha1.Sum(cab) //nolint:gosec // format-defined
	rc.p.mu.Lock()
	delete(rc.p.objects, base64.StdEncoding.EncodeToString(sum[:]))
	rc.p.mu.Unlock()
	rc.sendMSG(datacastHead, []byte("ID: 2\r\nData: "+obj+"\r\n\r\n"))
	return obj
}

// SendVoiceClip sends a voice clip as WLM does: a datacast ID 3 whose Data
// is the clip's MSNObject (Type 11), then serves the clip (a RIFF WAV) to
// the contact when they ask for it. It returns the MSNObject sent.
func (rc *RichConversation) SendVoiceClip(wav []byte) string {
	obj := rc.p.serveObject(scriptedVoiceType, wav, "TFR2C.tmp", "", "")
	rc.sendMSG(datacastHead, []byte("ID: 3\r\nData: "+obj+"\r\n\r\n"))
	return obj
}

// SendInkMSG sends a handwritten message as a switchboard message, as WLM
// does in group conversations: content type contentType ("image/gif" or
// "application/x-ms-ink"), body "base64:" and the data, chunked when long.
func (rc *RichConversation) SendInkMSG(contentType string, data []byte) {
	rc.sendMSG("MIME-Version: 1.0\r\nContent-Type: "+contentType, []byte("base64:"+base64.StdEncoding.EncodeToString(data)))
}

// SendRawMSG sends a message payload as is (bad input for tests), with
// ack mode N. It must fit in one switchboard message.
func (rc *RichConversation) SendRawMSG(payload []byte) { rc.write(payload) }

// SendInkP2P sends a handwritten message as WLM does in a one-to-one
// conversation: a P2P data message on session 64 with no MSNSLP call, its
// data the UTF-16LE text "MIME-Version: 1.0\r\nContent-Type: <type>\r\n\r\n",
// a NUL, "base64:" and the data, and a final NUL, in the usual P2P chunks.
// It waits for the contact's ack.
func (rc *RichConversation) SendInkP2P(ctx context.Context, contact, contentType string, data []byte) error {
	text := "MIME-Version: 1.0\r\nContent-Type: " + contentType + "\r\n\r\n\x00base64:" + base64.StdEncoding.EncodeToString(data) + "\x00"
	units := utf16.Encode([]rune(text))
	raw := make([]byte, 0, 2*len(units))
	for _, u := range units {
		raw = binary.LittleEndian.AppendUint16(raw, u)
	}
	return rc.SendP2PData(ctx, contact, inkSession, raw)
}

// SendP2PData sends one bare P2P data message (flags 0, footer 0) on
// session sid and waits for its ack.
func (rc *RichConversation) SendP2PData(ctx context.Context, contact string, sid uint32, raw []byte) error {
	id := rc.sb.send(contact, sid, 0, 0, raw)
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		select {
		case got := <-rc.sb.acks:
			if got == id {
				return nil
			}
		case <-actx.Done():
			return fmt.Errorf("no ack of the P2P message from %s: %w", contact, actx.Err())
		}
	}
}

// VoiceClipWAV returns a voice clip as WLM records it: a RIFF WAVE file in
// the Siren codec (format tag 0x028E, 16 kHz mono, 16 kbit/s: 40-byte
// frames of 320 samples), a fact chunk, and ms milliseconds of frames
// (random bytes: only the container matters to the bridge).
func VoiceClipWAV(ms int) []byte {
	frames := ms * 16 / 320
	data := make([]byte, frames*40)
	for i := range data {
		data[i] = byte(randU32())
	}
	le := binary.LittleEndian
	var b []byte
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, uint32(4+(8+20)+(8+4)+(8+len(data))))
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	b = le.AppendUint32(b, 20)
	b = le.AppendUint16(b, 0x028E) // Siren
	b = le.AppendUint16(b, 1)      // mono
	b = le.AppendUint32(b, 16000)  // samples per second
	b = le.AppendUint32(b, 2000)   // bytes per second
	b = le.AppendUint16(b, 40)     // block align: one frame
	b = le.AppendUint16(b, 0)      // bits per sample
	b = le.AppendUint16(b, 2)      // extra bytes
	b = le.AppendUint16(b, 320)    // samples per frame
	b = append(b, "fact"...)
	b = le.AppendUint32(b, 4)
	b = le.AppendUint32(b, uint32(frames*320))
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// CABFile is one file of a cabinet built by WinkCAB.
type CABFile struct {
	Name string
	Data []byte
}

// WinkCAB returns a cabinet (Microsoft CAB, uncompressed folder) holding
// files, as a wink's package: content.xml, the animation and a thumbnail.
func WinkCAB(files []CABFile) []byte {
	le := binary.LittleEndian
	var all []byte
	for _, f := range files {
		all = append(all, f.Data...)
	}
	const blockMax = 32768
	nBlocks := (len(all) + blockMax - 1) / blockMax
	filesSize := 0
	for _, f := range files {
		filesSize += 16 + len(f.Name) + 1
	}
	headerSize, folderSize := 36, 8
	dataStart := headerSize + folderSize + filesSize
	total := dataStart + nBlocks*8 + len(all)
	var b []byte
	b = append(b, "MSCF"...)
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(total))
	b = le.AppendUint32(b, 0)
	b = le.AppendUint32(b, uint32(headerSize+folderSize)) // first CFFILE
	b = le.AppendUint32(b, 0)
	b = append(b, 3, 1) // version 1.3
	b = le.AppendUint16(b, 1)
	b = le.AppendUint16(b, uint16(len(files)))
	b = le.AppendUint16(b, 0)    // flags
	b = le.AppendUint16(b, 1234) // set id
	b = le.AppendUint16(b, 0)    // cabinet number
	b = le.AppendUint32(b, uint32(dataStart))
	b = le.AppendUint16(b, uint16(nBlocks))
	b = le.AppendUint16(b, 0) // no compression
	off := 0
	for _, f := range files {
		b = le.AppendUint32(b, uint32(len(f.Data)))
		b = le.AppendUint32(b, uint32(off))
		b = le.AppendUint16(b, 0)      // folder
		b = le.AppendUint16(b, 0x3A21) // date (2009-01-01)
		b = le.AppendUint16(b, 0)      // time
		b = le.AppendUint16(b, 0x20)   // archive
		b = append(append(b, f.Name...), 0)
		off += len(f.Data)
	}
	for i := 0; i < nBlocks; i++ {
		block := all[i*blockMax : min((i+1)*blockMax, len(all))]
		b = le.AppendUint32(b, 0) // no checksum
		b = le.AppendUint16(b, uint16(len(block)))
		b = le.AppendUint16(b, uint16(len(block)))
		b = append(b, block...)
	}
	return b
}
