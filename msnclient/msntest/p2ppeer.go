package msntest

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // the MSNObject checksum is SHA-1
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// ScriptedPeer is an MSN contact scripted by the test server: an MSNP9
// client (the dialect of MSN Messenger 6, the first with display pictures)
// that logs in over TCP like any client, announces a display picture and
// speaks P2P version 1 through the switchboard the way Windows Live
// Messenger does: 1,344-byte data chunks, the data-preparation message,
// AppID echoed in the footer, an ack for every message and BYE from the
// requester. Its P2P framing is written here by hand from the protocol
// reference, independently of msnclient/p2p, so that tests of the client
// exercise an implementation other than the client's own.
type ScriptedPeer struct {
	s     *Server
	email string
	conn  net.Conn
	w     *msnp.Writer

	mu      sync.Mutex
	trid    int
	pending map[int]chan *msnp.Command
	picture []byte
	msnobj  string
	served  int               // pictures served
	objects map[string][]byte // other objects served (winks, voice clips) by SHA1D; see richpeer.go
	nextID  uint32
	closed  chan struct{}
	offers  scriptedOffers // file offers and texts received (p2ppeer_offers.go)

	emo scriptedEmoticons // custom emoticons (p2ppeer_emoticons.go)
}

// scriptedChunk is the data chunk size of WLM 8.5 through a switchboard
// (Escargot quirk 39).
const scriptedChunk = 1344

// StartScriptedPeer logs email (an account of s) in as a scripted peer
// announcing picture (nil: none). It stops when ctx ends or Close is called.
func (s *Server) StartScriptedPeer(ctx context.Context, email string, picture []byte) (*ScriptedPeer, error) {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", s.NSAddr())
	if err != nil {
		return nil, fmt.Errorf("scripted peer: %w", err)
	}
	p := &ScriptedPeer{s: s, email: email, conn: conn, w: msnp.NewWriter(conn),
		pending: make(map[int]chan *msnp.Command), closed: make(chan struct{}), nextID: randU32()%1000000 + 100}
	p.setPicture(picture)
	go p.readNS(msnp.NewReader(conn, msnp.FromServer))
	stop := context.AfterFunc(ctx, func() { p.Close() })
	if err := p.login(ctx); err != nil {
		stop()
		p.Close()
		return nil, fmt.Errorf("scripted peer %s: %w", email, err)
	}
	return p, nil
}

// Close signs the peer out.
func (p *ScriptedPeer) Close() {
	_ = p.w.WriteCommand(msnp.New("OUT"))
	_ = p.conn.Close()
}

// Served returns how many times the peer sent its picture.
func (p *ScriptedPeer) Served() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.served
}

// MSNObject returns the object the peer announces ("" for none).
func (p *ScriptedPeer) MSNObject() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.msnobj
}

func (p *ScriptedPeer) setPicture(picture []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.picture = picture
	p.msnobj = ""
	if picture != nil {
		sum := sha1.Sum(picture) //nolint:gosec // format-defined
		sha1d := base64.StdEncoding.EncodeToString(sum[:])
		c := "Creator" + p.email + "Size" + strconv.Itoa(len(picture)) + "Type3Location0FriendlyAAA=SHA1D" + sha1d
		sumC := sha1.Sum([]byte(c)) //nolint:gosec // format-defined
		p.msnobj = fmt.Sprintf(`<msnobj Creator="%s" Size="%d" Type="3" Location="0" Friendly="AAA=" SHA1D="%s" SHA1C="%s"/>`,
			p.email, len(picture), sha1d, base64.StdEncoding.EncodeToString(sumC[:]))
	}
}

// SetPicture changes the announced picture and, since an MSNObject alone
// is not passed on, the status with it (status "" keeps NLN).
func (p *ScriptedPeer) SetPicture(ctx context.Context, picture []byte, status string) error {
	p.setPicture(picture)
	if status == "" {
		status = "NLN"
	}
	return p.chg(ctx, status)
}

func (p *ScriptedPeer) request(ctx context.Context, name string, args ...string) (*msnp.Command, error) {
	p.mu.Lock()
	p.trid++
	trid := p.trid
	ch := make(chan *msnp.Command, 1)
	p.pending[trid] = ch
	p.mu.Unlock()
	if err := p.w.WriteCommand(msnp.New(name, append([]string{strconv.Itoa(trid)}, args...)...)); err != nil {
		return nil, err
	}
	select {
	case c := <-ch:
		if c.IsError() {
			return nil, c.Err()
		}
		return c, nil
	case <-p.closed:
		return nil, errors.New("connection closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *ScriptedPeer) readNS(r *msnp.Reader) {
	defer close(p.closed)
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		if cmd.Name == "RNG" {
			// RNG sessid addr CKI cookie inviter name
			go p.answerRing(cmd.Arg(0), cmd.Arg(1), cmd.Arg(3))
			continue
		}
		if trid, ok := cmd.TrID(); ok {
			p.mu.Lock()
			ch := p.pending[trid]
			delete(p.pending, trid)
			p.mu.Unlock()
			if ch != nil {
				ch <- cmd
			}
		}
	}
}

// readCommand reads the next command, skipping malformed lines.
func readCommand(r *msnp.Reader) (*msnp.Command, error) {
	for {
		cmd, err := r.ReadCommand()
		var se *msnp.SyntaxError
		if errors.As(err, &se) {
			continue
		}
		return cmd, err
	}
}

func (p *ScriptedPeer) login(ctx context.Context) error {
	if _, err := p.request(ctx, "VER", "MSNP9", "CVR0"); err != nil {
		return err
	}
	if _, err := p.request(ctx, "CVR", "0x0409", "winnt", "5.1", "i386", "MSNMSGR", "6.0.0602", "MSMSGS", p.email); err != nil {
		return err
	}
	if _, err := p.request(ctx, "USR", "TWN", "I", p.email); err != nil {
		return err
	}
	p.s.mu.Lock()
	tok, _ := p.s.issueToken(p.email, time.Minute, false, true)
	p.s.mu.Unlock()
	if _, err := p.request(ctx, "USR", "TWN", "S", "t="+tok+"&p=scripted"); err != nil {
		return err
	}
	if _, err := p.request(ctx, "SYN", "0"); err != nil {
		return err
	}
	return p.chg(ctx, "NLN")
}

func (p *ScriptedPeer) chg(ctx context.Context, status string) error {
	args := []string{status, "268435456"} // MSNC1: P2P version 1
	if obj := p.MSNObject(); obj != "" {
		args = append(args, msnp.EncodeParamFull(obj))
	}
	_, err := p.request(ctx, "CHG", args...)
	return err
}

// scriptedSB is one switchboard connection of the scripted peer.
type scriptedSB struct {
	p       *ScriptedPeer
	conn    net.Conn
	w       *msnp.Writer
	mu      sync.Mutex
	trid    int
	joined  chan string
	packets chan scriptedPacket
	acks    chan uint32   // ids of our messages acked while serving, when set (richpeer.go)
	done    chan struct{} // closed when read ends (switchboards the peer opened)
}

// scriptedPacket is a P2P message received (one chunk).
type scriptedPacket struct {
	sid, id, flags, ackID, ackUID, footer uint32
	offset, total                         uint64
	data                                  []byte
	slp                                   string // whole MSNSLP text when sid == 0 and the message is complete
}

func (p *ScriptedPeer) dialSB(ctx context.Context, addr string) (*scriptedSB, *msnp.Reader, error) {
	d := net.Dialer{}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	sb := &scriptedSB{p: p, conn: conn, w: msnp.NewWriter(conn), joined: make(chan string, 4), packets: make(chan scriptedPacket, 256)}
	return sb, msnp.NewReader(conn, msnp.FromServer), nil
}

func (p *ScriptedPeer) answerRing(sessID, addr, cookie string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	sb, r, err := p.dialSB(ctx, addr)
	if err != nil {
		return
	}
	defer sb.conn.Close()
	_ = sb.w.WriteCommand(msnp.New("ANS", "1", p.email, cookie, sessID))
	go sb.read(r)
	sb.serveObjects(ctx)
}

func (sb *scriptedSB) read(r *msnp.Reader) {
	defer close(sb.packets)
	var buf []byte // reassembly of the current MSNSLP message
	for {
		cmd, err := readCommand(r)
		if err != nil {
			return
		}
		switch cmd.Name {
		case "JOI":
			sb.joined <- strings.ToLower(cmd.Arg(0))
		case "MSG":
			pkt, ok := parseScripted(cmd.Payload, sb.p.email)
			if !ok {
				sb.p.offers.recordText(cmd.Payload)
				continue
			}
			if pkt.sid == 0 && pkt.flags&2 == 0 {
				if pkt.offset == 0 {
					buf = buf[:0]
				}
				buf = append(buf, pkt.data...)
				if uint64(len(buf)) < pkt.total {
					continue
				}
				pkt.slp = strings.TrimRight(string(buf), "\x00")
			}
			sb.packets <- pkt
		}
	}
}

// parseScripted reads a P2P payload addressed to self; the layout is the
// reference's (48-byte little-endian header, big-endian footer).
func parseScripted(payload []byte, self string) (scriptedPacket, bool) {
	head, body, ok := strings.Cut(string(payload), "\r\n\r\n")
	if !ok || !strings.Contains(head, "application/x-msnmsgrp2p") ||
		!strings.Contains(strings.ToLower(head), "p2p-dest: "+strings.ToLower(self)) || len(body) < 52 {
		return scriptedPacket{}, false
	}
	b := []byte(body)
	le := binary.LittleEndian
	return scriptedPacket{
		sid: le.Uint32(b[0:]), id: le.Uint32(b[4:]), offset: le.Uint64(b[8:]), total: le.Uint64(b[16:]),
		flags: le.Uint32(b[28:]), ackID: le.Uint32(b[32:]), ackUID: le.Uint32(b[36:]),
		data: b[48 : len(b)-4], footer: binary.BigEndian.Uint32(b[len(b)-4:]),
	}, true
}

// send writes one P2P message in chunks to dest; it returns its id.
func (sb *scriptedSB) send(dest string, sid, flags, footer uint32, data []byte) uint32 {
	sb.p.mu.Lock()
	sb.p.nextID++
	id := sb.p.nextID
	sb.p.mu.Unlock()
	uid := randU32()
	chunk := sb.p.chunkSize()
	for off := 0; off == 0 || off < len(data); off += chunk {
		end := min(off+chunk, len(data))
		sb.write(dest, sid, id, uint64(off), uint64(len(data)), flags, uid, 0, 0, data[off:end], footer)
		if len(data) == 0 {
			break
		}
	}
	return id
}

func (sb *scriptedSB) ack(dest string, pkt scriptedPacket) {
	sb.p.mu.Lock()
	sb.p.nextID++
	id := sb.p.nextID
	sb.p.mu.Unlock()
	sb.write(dest, pkt.sid, id, 0, pkt.total, 2, pkt.id, pkt.ackID, pkt.total, nil, 0)
}

func (sb *scriptedSB) write(dest string, sid, id uint32, off, total uint64, flags, ackSID, ackUID uint32, ackSize uint64, data []byte, footer uint32) {
	h := make([]byte, 48, 48+len(data)+4)
	le := binary.LittleEndian
	le.PutUint32(h[0:], sid)
	le.PutUint32(h[4:], id)
	le.PutUint64(h[8:], off)
	le.PutUint64(h[16:], total)
	le.PutUint32(h[24:], uint32(len(data)))
	le.PutUint32(h[28:], flags)
	le.PutUint32(h[32:], ackSID)
	le.PutUint32(h[36:], ackUID)
	le.PutUint64(h[40:], ackSize)
	h = append(h, data...)
	h = binary.BigEndian.AppendUint32(h, footer)
	payload := append([]byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: "+dest+"\r\n\r\n"), h...)
	sb.mu.Lock()
	sb.trid++
	trid := sb.trid
	sb.mu.Unlock()
	_ = sb.w.WriteCommand(msnp.NewPayload("MSG", payload, strconv.Itoa(trid), "D"))
}

// slpField returns a "Name: value" field of MSNSLP text.
func slpField(text, name string) string {
	for _, line := range strings.Split(text, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (sb *scriptedSB) peerOf(pkt scriptedPacket) string { return slpAddr(slpField(pkt.slp, "From")) }

func slpAddr(v string) string {
	v = strings.Trim(v, "<>")
	_, email, _ := strings.Cut(v, ":")
	return email
}

func (sb *scriptedSB) nextPacket(ctx context.Context) (scriptedPacket, bool) {
	select {
	case pkt, ok := <-sb.packets:
		return pkt, ok
	case <-ctx.Done():
		return scriptedPacket{}, false
	}
}

// waitAck waits for the ack of message id, answering nothing else.
func (sb *scriptedSB) waitAck(ctx context.Context, id uint32) bool {
	for {
		pkt, ok := sb.nextPacket(ctx)
		if !ok {
			return false
		}
		if pkt.flags&2 != 0 && pkt.ackID == id {
			return true
		}
	}
}

func (sb *scriptedSB) response(invite string, code int, reason, body string) string {
	return fmt.Sprintf("MSNSLP/1.0 %d %s\r\nTo: <msnmsgr:%s>\r\nFrom: <msnmsgr:%s>\r\nVia: %s\r\nCSeq: 1 \r\nCall-ID: %s\r\n"+
		"Max-Forwards: 0\r\nContent-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: %d\r\n\r\n%s\x00",
		code, reason, slpAddr(slpField(invite, "From")), sb.p.email, slpField(invite, "Via"), slpField(invite, "Call-ID"), len(body)+1, body)
}

// RequestPicture opens a switchboard with contact, asks for the picture
// described by msnobj with AppID 12 (as WLM does), checks its SHA1D and
// returns it.
func (p *ScriptedPeer) RequestPicture(ctx context.Context, contact, msnobj string) ([]byte, error) {
	sb, err := p.openSB(ctx, contact)
	if err != nil {
		return nil, err
	}
	defer sb.conn.Close()
	sid := randU32()%100000000 + 1000
	callID := fmt.Sprintf("{%08X-1111-4222-8333-%012X}", randU32(), randU32())
	body := fmt.Sprintf("EUF-GUID: {A4268EEC-FEC5-49E5-95C3-F126696BDBF6}\r\nSessionID: %d\r\nAppID: 12\r\nContext: %s\r\n\r\n",
		sid, base64.StdEncoding.EncodeToString(append([]byte(msnobj), 0)))
	invite := fmt.Sprintf("INVITE MSNMSGR:%s MSNSLP/1.0\r\nTo: <msnmsgr:%s>\r\nFrom: <msnmsgr:%s>\r\n"+
		"Via: MSNSLP/1.0/TLP ;branch={%08X-2222-4333-8444-%012X}\r\nCSeq: 0 \r\nCall-ID: %s\r\nMax-Forwards: 0\r\n"+
		"Content-Type: application/x-msnmsgr-sessionreqbody\r\nContent-Length: %d\r\n\r\n%s\x00",
		contact, contact, p.email, randU32(), randU32(), callID, len(body)+1, body)
	sb.send(contact, 0, 0, 0, []byte(invite))
	var picture []byte
	for picture == nil {
		pkt, ok := sb.nextPacket(ctx)
		if !ok {
			return nil, fmt.Errorf("no picture from %s", contact)
		}
		switch {
		case pkt.flags&2 != 0:
		case pkt.sid == 0:
			sb.ack(contact, pkt)
			if strings.HasPrefix(pkt.slp, "MSNSLP/1.0 ") && !strings.HasPrefix(pkt.slp, "MSNSLP/1.0 200 ") {
				return nil, fmt.Errorf("declined: %s", strings.SplitN(pkt.slp, "\r\n", 2)[0])
			}
		case pkt.sid == uint32(sid):
			if pkt.offset+uint64(len(pkt.data)) < pkt.total {
				picture = append(picture[:0:0], pkt.data...) // first chunk; the rest follows
				for uint64(len(picture)) < pkt.total {
					next, ok := sb.nextPacket(ctx)
					if !ok {
						return nil, errors.New("data cut short")
					}
					if next.sid == uint32(sid) && next.flags&2 == 0 {
						picture = append(picture, next.data...)
					}
				}
			} else if pkt.total == 4 && pkt.flags == 0 {
				sb.ack(contact, pkt) // data preparation
				continue
			} else {
				picture = append([]byte(nil), pkt.data...)
			}
			sb.ack(contact, pkt)
		}
	}
	bye := fmt.Sprintf("BYE MSNMSGR:%s MSNSLP/1.0\r\nTo: <msnmsgr:%s>\r\nFrom: <msnmsgr:%s>\r\n"+
		"Via: MSNSLP/1.0/TLP ;branch={%08X-3333-4444-8555-%012X}\r\nCSeq: 0 \r\nCall-ID: %s\r\nMax-Forwards: 0\r\n"+
		"Content-Type: application/x-msnmsgr-sessionclosebody\r\nContent-Length: 3\r\n\r\n\r\n\x00",
		contact, contact, p.email, randU32(), randU32(), callID)
	byeID := sb.send(contact, 0, 0, 0, []byte(bye))
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	sb.waitAck(actx, byeID)
	cancel()
	if i := strings.Index(msnobj, `SHA1D="`); i >= 0 {
		sum := sha1.Sum(picture) //nolint:gosec // format-defined
		if want := msnobj[i+7 : i+7+28]; base64.StdEncoding.EncodeToString(sum[:]) != want {
			return nil, fmt.Errorf("SHA1D mismatch: got %d bytes", len(picture))
		}
	}
	return picture, nil
}

func randU32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
