package msntest

import (
	"context"
	"crypto/sha1" //nolint:gosec // the MSNObject checksum is SHA-1
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// ScriptedStyle is the client a scripted peer imitates where clients
// differ.
type ScriptedStyle int

// Styles of scripted peers.
const (
	// StyleWLM is Windows Live Messenger 8.5: 1,344-byte P2P data chunks,
	// emoticon definitions each followed by a tab.
	StyleWLM ScriptedStyle = iota
	// StylePidgin is Pidgin 2.x: 1,202-byte chunks, definitions separated
	// by tabs with none at the end.
	StylePidgin
)

// pidginChunk is libpurple's P2P data chunk size through a switchboard.
const pidginChunk = 1202

// ScriptedEmoticon is a custom emoticon of a scripted peer.
type ScriptedEmoticon struct {
	Shortcut string
	Name     string // friendly name, may be empty
	Data     []byte // the image
	Animated bool   // defined in a text/x-mms-animemoticon message
}

// scriptedEmoticons is the emoticon state of a scripted peer.
type scriptedEmoticons struct {
	mu       sync.Mutex
	style    ScriptedStyle
	objects  map[string][]byte // SHA1D -> image served
	silent   bool              // requests are acknowledged and never answered
	requests int               // emoticon requests received
	served   int               // emoticons sent whole
	sbs      map[string]*scriptedSB
}

// SetStyle makes the peer behave as style from now on.
func (p *ScriptedPeer) SetStyle(style ScriptedStyle) {
	p.emo.mu.Lock()
	p.emo.style = style
	p.emo.mu.Unlock()
}

// IgnoreEmoticonRequests makes the peer acknowledge requests for its
// emoticons and never answer them (a hung or slow client), or answer them
// again.
func (p *ScriptedPeer) IgnoreEmoticonRequests(ignore bool) {
	p.emo.mu.Lock()
	p.emo.silent = ignore
	p.emo.mu.Unlock()
}

// EmoticonRequests returns how many requests for its emoticons the peer
// received, and how many it answered with the whole image.
func (p *ScriptedPeer) EmoticonRequests() (requests, served int) {
	p.emo.mu.Lock()
	defer p.emo.mu.Unlock()
	return p.emo.requests, p.emo.served
}

// chunkSize is the P2P data chunk size of the peer's style.
func (p *ScriptedPeer) chunkSize() int {
	p.emo.mu.Lock()
	defer p.emo.mu.Unlock()
	if p.emo.style == StylePidgin {
		return pidginChunk
	}
	return scriptedChunk
}

// EmoticonObject returns the MSNObject the peer announces for e, as WLM
// writes it.
func (p *ScriptedPeer) EmoticonObject(e ScriptedEmoticon) string {
	sum := sha1.Sum(e.Data) //nolint:gosec // format-defined
	sha1d := base64.StdEncoding.EncodeToString(sum[:])
	units := utf16.Encode([]rune(e.Name))
	name := make([]byte, 0, 2*len(units)+2)
	for _, u := range append(units, 0) {
		name = binary.LittleEndian.AppendUint16(name, u)
	}
	friendly := base64.StdEncoding.EncodeToString(name)
	location := fmt.Sprintf("TFR%X.dat", sum[0])
	c := "Creator" + p.email + "Size" + strconv.Itoa(len(e.Data)) + "Type2Location" + location + "Friendly" + friendly + "SHA1D" + sha1d
	sumC := sha1.Sum([]byte(c)) //nolint:gosec // format-defined
	return fmt.Sprintf(`<msnobj Creator="%s" Size="%d" Type="2" Location="%s" Friendly="%s" SHA1D="%s" SHA1C="%s"/>`,
		p.email, len(e.Data), location, friendly, sha1d, base64.StdEncoding.EncodeToString(sumC[:]))
}

// emoticonFor returns the emoticon image and MSNObject a request's Context
// asks for, nil when it is none of the peer's emoticons.
func (p *ScriptedPeer) emoticonFor(ctxBytes []byte) ([]byte, string) {
	text := string(ctxBytes)
	i := strings.Index(text, `SHA1D="`)
	if i < 0 || len(text) < i+7+28 {
		return nil, ""
	}
	sha1d := text[i+7 : i+7+28]
	p.emo.mu.Lock()
	defer p.emo.mu.Unlock()
	data := p.emo.objects[sha1d]
	if data == nil {
		return nil, ""
	}
	return data, `SHA1D="` + sha1d
}

// SendEmoticonMessage sends text to contact the way WLM and Pidgin send a
// message with custom emoticons: on a switchboard with the contact (the
// one of the peer's last message while it is open), the definitions of
// the emoticons first (static ones in a text/x-mms-emoticon message,
// animated ones in a text/x-mms-animemoticon message, acknowledgement mode
// N), then the text. The peer serves the images to whoever asks, on that
// switchboard or any other, until it signs out.
func (p *ScriptedPeer) SendEmoticonMessage(ctx context.Context, contact, text string, emoticons ...ScriptedEmoticon) error {
	contact = strings.ToLower(contact)
	p.emo.mu.Lock()
	if p.emo.objects == nil {
		p.emo.objects = make(map[string][]byte)
		p.emo.sbs = make(map[string]*scriptedSB)
	}
	var static, animated []string
	for _, e := range emoticons {
		obj := p.EmoticonObject(e)
		sum := sha1.Sum(e.Data) //nolint:gosec // format-defined
		p.emo.objects[base64.StdEncoding.EncodeToString(sum[:])] = e.Data
		if e.Animated {
			animated = append(animated, e.Shortcut, obj)
		} else {
			static = append(static, e.Shortcut, obj)
		}
	}
	style := p.emo.style
	sb := p.emo.sbs[contact]
	p.emo.mu.Unlock()
	if sb == nil || sb.isDone() {
		var err error
		if sb, err = p.openSB(ctx, contact); err != nil {
			return err
		}
		go func() {
			defer sb.conn.Close()
			// Served until the peer signs out.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go func() {
				select {
				case <-p.closed:
				case <-sb.done:
				}
				cancel()
			}()
			sb.serveObjects(ctx)
		}()
		p.emo.mu.Lock()
		p.emo.sbs[contact] = sb
		p.emo.mu.Unlock()
	}
	for _, defs := range []struct {
		ct     string
		fields []string
	}{{"text/x-mms-emoticon", static}, {"text/x-mms-animemoticon", animated}} {
		if len(defs.fields) == 0 {
			continue
		}
		body := strings.Join(defs.fields, "\t")
		if style == StyleWLM {
			body += "\t"
		}
		if err := sb.message("N", "MIME-Version: 1.0\r\nContent-Type: "+defs.ct+"\r\n\r\n"+body); err != nil {
			return err
		}
	}
	return sb.message("A", "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"+
		"X-MMS-IM-Format: FN=Segoe%20UI; EF=; CO=0; CS=1; PF=0\r\n\r\n"+text)
}

// openSB opens a switchboard and invites contact into it.
func (p *ScriptedPeer) openSB(ctx context.Context, contact string) (*scriptedSB, error) {
	xfr, err := p.request(ctx, "XFR", "SB")
	if err != nil {
		return nil, fmt.Errorf("XFR SB: %w", err)
	}
	sb, r, err := p.dialSB(ctx, xfr.Arg(2))
	if err != nil {
		return nil, err
	}
	sbr := make(chan *msnp.Command, 1)
	go func() {
		c, err := r.ReadCommand()
		if err == nil {
			sbr <- c
		}
		close(sbr)
	}()
	_ = sb.w.WriteCommand(msnp.New("USR", "1", p.email, xfr.Arg(4)))
	if c := <-sbr; c == nil || c.Name != "USR" {
		_ = sb.conn.Close()
		return nil, errors.New("switchboard USR failed")
	}
	sb.done = make(chan struct{})
	go func() {
		sb.read(r)
		close(sb.done)
	}()
	_ = sb.w.WriteCommand(msnp.New("CAL", "2", contact))
	select {
	case <-sb.joined:
		return sb, nil
	case <-ctx.Done():
		_ = sb.conn.Close()
		return nil, fmt.Errorf("%s did not join: %w", contact, ctx.Err())
	}
}

// CloseConversation leaves the switchboard the peer opened with contact
// for its messages, as WLM does with an idle conversation: a later request
// for its emoticons comes on a new switchboard the contact opens.
func (p *ScriptedPeer) CloseConversation(contact string) {
	p.emo.mu.Lock()
	sb := p.emo.sbs[strings.ToLower(contact)]
	delete(p.emo.sbs, strings.ToLower(contact))
	p.emo.mu.Unlock()
	if sb != nil {
		_ = sb.w.WriteCommand(msnp.New("OUT"))
		<-sb.done
	}
}

// isDone reports whether the switchboard's connection ended.
func (sb *scriptedSB) isDone() bool {
	select {
	case <-sb.done:
		return true
	default:
		return false
	}
}

// message sends one MSG payload with acknowledgement mode ack.
func (sb *scriptedSB) message(ack, payload string) error {
	sb.mu.Lock()
	sb.trid++
	trid := sb.trid
	sb.mu.Unlock()
	if err := sb.w.WriteCommand(msnp.NewPayload("MSG", []byte(payload), strconv.Itoa(trid), ack)); err != nil {
		return fmt.Errorf("send on switchboard: %w", err)
	}
	return nil
}

// objectServer answers object requests on one switchboard the way WLM
// does: every request is answered as it comes, so that the sessions of
// several emoticons run at once and their data chunks interleave.
type objectServer struct {
	sb      *scriptedSB
	mu      sync.Mutex
	waiting map[uint32]chan struct{} // message id -> closed on its ack
	acked   map[uint32]bool          // acks that came before anyone waited
}

// serveObjects answers requests for the peer's emoticons and picture
// until the switchboard closes.
func (sb *scriptedSB) serveObjects(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &objectServer{sb: sb, waiting: make(map[uint32]chan struct{}), acked: make(map[uint32]bool)}
	for {
		var pkt scriptedPacket
		select {
		case p, ok := <-sb.packets:
			if !ok {
				return
			}
			pkt = p
		case <-ctx.Done():
			return
		}
		switch {
		case pkt.flags&2 != 0:
			s.gotAck(pkt.ackID)
			sb.noteAck(pkt.ackID) // for SendP2PData (richpeer.go)
		case strings.HasPrefix(pkt.slp, "INVITE "):
			from := slpAddr(slpField(pkt.slp, "From"))
			sb.ack(from, pkt)
			if sb.p.offers.ignore(pkt.slp) {
				continue // a file offer left unanswered (IgnoreFileOffers)
			}
			go s.answer(ctx, from, pkt.slp)
		case pkt.slp != "" || pkt.sid != 0:
			sb.ack(sb.peerOf(pkt), pkt) // BYE, data
		}
	}
}

func (s *objectServer) gotAck(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch := s.waiting[id]; ch != nil {
		close(ch)
		delete(s.waiting, id)
		return
	}
	s.acked[id] = true
}

// sendAcked sends a message and waits for its ack.
func (s *objectServer) sendAcked(ctx context.Context, dest string, sid, flags, footer uint32, data []byte) bool {
	id := s.sb.send(dest, sid, flags, footer, data)
	s.mu.Lock()
	if s.acked[id] {
		delete(s.acked, id)
		s.mu.Unlock()
		return true
	}
	ch := make(chan struct{})
	s.waiting[id] = ch
	s.mu.Unlock()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-ch:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	s.mu.Lock()
	delete(s.waiting, id)
	s.mu.Unlock()
	return false
}

// answer answers one INVITE: 200 OK, the data-preparation message, the
// data with flag 0x20 and the INVITE's AppID in the footer, each once the
// previous one was acknowledged.
func (s *objectServer) answer(ctx context.Context, from, invite string) {
	sb, p := s.sb, s.sb.p
	body := invite[strings.Index(invite, "\r\n\r\n")+4:]
	sid, _ := strconv.ParseUint(slpField(body, "SessionID"), 10, 32)
	appID, _ := strconv.ParseUint(slpField(body, "AppID"), 10, 32)
	ctxBytes, _ := base64.StdEncoding.DecodeString(slpField(body, "Context"))
	data, _ := p.emoticonFor(ctxBytes)
	emoticon := data != nil
	if !emoticon {
		data = p.objectFor(string(ctxBytes)) // a wink or voice clip (richpeer.go)
	}
	if emoticon {
		p.emo.mu.Lock()
		p.emo.requests++
		silent := p.emo.silent
		p.emo.mu.Unlock()
		if silent {
			return
		}
	} else if data == nil {
		p.mu.Lock()
		picture, obj := p.picture, p.msnobj
		p.mu.Unlock()
		if i := strings.Index(obj, `SHA1D="`); picture != nil && i >= 0 && strings.Contains(string(ctxBytes), obj[i:i+7+28]) {
			data = picture
		}
	}
	if data == nil {
		sb.send(from, 0, 0, 0, []byte(sb.response(invite, 603, "Decline", fmt.Sprintf("SessionID: %d\r\n\r\n", sid))))
		return
	}
	if !s.sendAcked(ctx, from, 0, 0, 0, []byte(sb.response(invite, 200, "OK", fmt.Sprintf("SessionID: %d\r\n\r\n", sid)))) ||
		!s.sendAcked(ctx, from, uint32(sid), 0, uint32(appID), []byte{0, 0, 0, 0}) ||
		!s.sendAcked(ctx, from, uint32(sid), 0x20, uint32(appID), data) {
		return
	}
	if emoticon {
		p.emo.mu.Lock()
		p.emo.served++
		p.emo.mu.Unlock()
	} else {
		p.mu.Lock()
		p.served++
		p.mu.Unlock()
	}
}
