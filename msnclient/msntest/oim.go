package msntest

import (
	"encoding/base64"
	"fmt"
	"mime"
	"net/http"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Offline messages (OIM) as Escargot serves them (front/msn/http/other.py,
// misc.py gen_mail_data/format_oim, msnp_ns.py): stored per recipient until
// DeleteMessages, listed in Mail-Data at the first CHG of MSNP11+ sessions
// (more than 25: "too-large"), announced live to online MSNP11+ sessions,
// served by the RSI service, accepted from the OIM store (lock-key
// challenge) and from MSNP18 UUM.

// oimLockKeyChallenge is Escargot's constant lock key challenge.
const oimLockKeyChallenge = "1850937852"

// maxMailDataEntries is the most offline messages listed in an NS
// notification before "too-large".
const maxMailDataEntries = 25

// storedOIM is one waiting offline message.
type storedOIM struct {
	id       string // upper-case GUID without braces
	runID    string // upper-case GUID without braces
	seq      int
	from     string // sender email as registered
	fromName string
	sent     time.Time
	text     string
	ip       string
}

// OfflineMessage is a stored offline message as tests see it.
type OfflineMessage struct {
	ID       string
	From     string
	FromName string
	To       string
	Text     string
	Sent     time.Time
}

// oimControl holds the test controls of the offline message services. It
// has its own mutex: never take Server.mu while holding it.
type oimControl struct {
	mu      sync.Mutex
	calls   map[string]int           // SOAP calls by action
	holds   map[string]chan struct{} // actions whose requests wait until released
	waiting map[string]int           // requests waiting on a hold, by action
}

// countCall records a call of action and returns the hold to wait on, if any.
func (c *oimControl) countCall(action string) chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.calls == nil {
		c.calls = make(map[string]int)
	}
	c.calls[action]++
	return c.holds[action]
}

// OfflineServiceCalls returns how many RSI and OIM store requests of a SOAP
// action ("GetMetadata", "GetMessage", "DeleteMessages", "Store") the server
// received.
func (s *Server) OfflineServiceCalls(action string) int {
	s.oimCtl.mu.Lock()
	defer s.oimCtl.mu.Unlock()
	return s.oimCtl.calls[action]
}

// HoldOfflineService makes every RSI or OIM store request of action wait
// (before it is processed) until release is called, as a server that
// stopped answering. Use it to stop a client between two steps.
func (s *Server) HoldOfflineService(action string) (release func()) {
	ch := make(chan struct{})
	s.oimCtl.mu.Lock()
	if s.oimCtl.holds == nil {
		s.oimCtl.holds = make(map[string]chan struct{})
	}
	s.oimCtl.holds[action] = ch
	s.oimCtl.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			s.oimCtl.mu.Lock()
			if s.oimCtl.holds[action] == ch {
				delete(s.oimCtl.holds, action)
			}
			s.oimCtl.mu.Unlock()
			close(ch)
		})
	}
}

// passHold counts a call of action and waits while the action is held.
// It reports false when the request or the server ended meanwhile.
func (s *Server) passHold(r *http.Request, action string) bool {
	hold := s.oimCtl.countCall(action)
	if hold == nil {
		return true
	}
	s.oimCtl.addWaiting(action, 1)
	defer s.oimCtl.addWaiting(action, -1)
	select {
	case <-hold:
		return r.Context().Err() == nil
	case <-r.Context().Done():
		return false
	case <-s.closed:
		return false
	}
}

func (c *oimControl) addWaiting(action string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.waiting == nil {
		c.waiting = make(map[string]int)
	}
	c.waiting[action] += n
}

// HeldRequests returns how many requests of action are waiting on a
// HoldOfflineService hold right now (a request whose client went away
// stops waiting).
func (s *Server) HeldRequests(action string) int {
	s.oimCtl.mu.Lock()
	defer s.oimCtl.mu.Unlock()
	return s.oimCtl.waiting[action]
}

// readXMLBody reads and parses a SOAP request; on failure it has answered
// (Escargot answers malformed XML with an HTTP 500).
func readXMLBody(w http.ResponseWriter, r *http.Request) (*xmlNode, bool) {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	root, err := parseXML(body)
	if err != nil {
		http.Error(w, "malformed XML", http.StatusInternalServerError)
		return nil, false
	}
	return root, true
}

// StoreOfflineMessage stores an offline message from one account to
// another, as if the sender's client had used the OIM store while the
// recipient was away, and notifies the recipient's online sessions. It
// returns the message id.
func (s *Server) StoreOfflineMessage(from, to, text string, sent time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, b := s.accounts[key(from)], s.accounts[key(to)]
	if a == nil || b == nil {
		return "", fmt.Errorf("msntest: unknown account %s or %s", from, to)
	}
	o := s.saveOIM(a, b, strings.ToUpper(msnp.NewUUID()), 1, text, "127.0.0.1")
	if !sent.IsZero() {
		o.sent = sent.UTC()
	}
	return o.id, nil
}

// OfflineMessages lists the offline messages waiting for email, oldest first.
func (s *Server) OfflineMessages(email string) []OfflineMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[key(email)]
	if a == nil {
		return nil
	}
	out := make([]OfflineMessage, 0, len(a.oims))
	for _, o := range a.oims {
		out = append(out, OfflineMessage{ID: o.id, From: o.from, FromName: o.fromName, To: a.email, Text: o.text, Sent: o.sent})
	}
	return out
}

// saveOIM stores an offline message for b and notifies b's online MSNP11+
// sessions. Server.mu must be held.
func (s *Server) saveOIM(a, b *account, runID string, seq int, text, ip string) *storedOIM {
	o := &storedOIM{
		id: strings.ToUpper(msnp.NewUUID()), runID: runID, seq: seq,
		from: a.email, fromName: a.name, sent: time.Now().UTC().Truncate(time.Second), text: text, ip: ip,
	}
	b.oims = append(b.oims, o)
	for _, sess := range s.sessionsOf(b) {
		if sess.chgDone && sess.dialect >= 11 {
			sess.sendPayload("MSG", mailMessage("text/x-msmsgsoimnotification", s.liveMailData(o)), "Hotmail", "Hotmail")
		}
	}
	return o
}

// mailMessage is an NS "MSG Hotmail Hotmail" payload with a Mail-Data header.
func mailMessage(contentType, mailData string) []byte {
	return []byte("MIME-Version: 1.0\r\nContent-Type: " + contentType + "; charset=UTF-8\r\n\r\nMail-Data: " + mailData + "\r\n" +
		"Inbox-URL: /cgi-bin/HoTMaiL\r\nFolders-URL: /cgi-bin/folders\r\nPost-URL: http://www.hotmail.com\r\n\r\n")
}

// initialMailData is the notification sent after the first CHG.
// Server.mu must be held.
func (s *Server) initialMailData(a *account) []byte {
	if len(a.oims) > maxMailDataEntries {
		return mailMessage("text/x-msmsgsinitialmdatanotification", "too-large")
	}
	return mailMessage("text/x-msmsgsinitialmdatanotification", s.mailDataXML(a, true))
}

// mailDataXML is the <MD> document listing a's offline messages; with the
// mailbox counters for the NS, without for GetMetadata.
func (s *Server) mailDataXML(a *account, counters bool) string {
	var b strings.Builder
	b.WriteString("<MD>")
	if counters {
		b.WriteString("<E><I>0</I><IU>0</IU><O>0</O><OU>0</OU></E>")
	}
	b.WriteString("<Q><QTM>409600</QTM><QNM>204800</QNM></Q>")
	for _, o := range a.oims {
		fmt.Fprintf(&b, "<M><T>11</T><S>6</S><RT>%s</RT><RS>0</RS><SZ>%d</SZ><E>%s</E><I>%s</I><F>00000000-0000-0000-0000-000000000009</F><N>%s</N></M>",
			o.sent.Format("2006-01-02T15:04:05Z"), len(formatOIM(o, a)), esc(o.from), o.id, esc(encodeWord(o.fromName, false)))
	}
	b.WriteString("</MD>")
	return b.String()
}

// liveMailData announces one new offline message (Escargot puts a space
// before "?=" in the name here).
func (s *Server) liveMailData(o *storedOIM) string {
	return fmt.Sprintf("<MD><M><T>11</T><S>6</S><RS>0</RS><SZ>%d</SZ><E>%s</E><I>%s</I><F>.!!OIM</F><N>%s</N></M><SU> </SU></MD>",
		len(o.text)+600, esc(o.from), o.id, esc(encodeWord(o.fromName, true)))
}

// encodeWord is the RFC 2047 B encoding of a name.
func encodeWord(name string, space bool) string {
	if name == "" {
		return ""
	}
	enc := "=?utf-8?B?" + base64.StdEncoding.EncodeToString([]byte(name))
	if space {
		return enc + " ?="
	}
	return enc + "?="
}

// formatOIM is the RFC 822 text GetMessage returns (oim.md §2.3).
func formatOIM(o *storedOIM, to *account) string {
	local := o.sent.In(time.FixedZone("", -8*3600))
	var b strings.Builder
	w := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	w("X-Message-Info", "cwRBnLifKNE8dVZlNj6AiX8142B67OTjG9BFMLMyzuui1H4Xx7m3NQ==")
	w("Received", "from OIM-SSI02.phx.gbl ([65.54.237.206]) by oim1-f1.hotmail.com with Microsoft SMTPSVC(6.0.3790.211);\r\n\t "+local.Format("Mon, 02 Jan 2006 15:04:05 -0700"))
	w("From", encodeWord(o.fromName, false)+" <"+o.from+">")
	w("To", to.email)
	w("Subject", "")
	w("X-OIM-originatingSource", o.ip)
	w("X-OIMProxy", "MSNMSGR")
	w("MIME-Version", "1.0")
	w("Content-Type", "text/plain; charset=UTF-8")
	w("Content-Transfer-Encoding", "base64")
	w("X-OIM-Message-Type", "OfflineMessage")
	w("X-OIM-Run-Id", "{"+o.runID+"}")
	w("X-OIM-Sequence-Num", strconv.Itoa(o.seq))
	w("Message-ID", "<OIM-SSI02"+strings.ReplaceAll(strings.ToLower(o.id), "-", "")+"@OIM-SSI02.phx.gbl>")
	w("X-OriginalArrivalTime", o.sent.Format("02 Jan 2006 15:04:05.0000")+" (UTC) FILETIME=[00000000:00000000]")
	w("Date", local.Format("02 Jan 2006 15:04:05 -0700"))
	w("Return-Path", "ndr@oim.messenger.msn.com")
	b.WriteString("\r\n")
	b.WriteString(base64.StdEncoding.EncodeToString([]byte(o.text)))
	return b.String()
}

// rsiFault is Escargot's Fault.validation (HTTP 500).
func rsiFault(w http.ResponseWriter, reason string) {
	writeXML(w, http.StatusInternalServerError, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode>soap:Client</faultcode><faultstring>`+esc(reason)+`</faultstring><detail><ErrorCode xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi">Fault.validation</ErrorCode></detail></soap:Fault></soap:Body></soap:Envelope>`)
}

func rsiResponse(w http.ResponseWriter, inner string) {
	writeXML(w, http.StatusOK, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body>`+inner+`</soap:Body></soap:Envelope>`)
}

// handleRSI serves GetMetadata, GetMessage and DeleteMessages.
func (s *Server) handleRSI(w http.ResponseWriter, r *http.Request) {
	root, ok := readXMLBody(w, r)
	if !ok {
		return
	}
	var action *xmlNode
	if b := root.find("Body"); b != nil && len(b.Children) > 0 {
		action = b.Children[0]
	}
	if action == nil {
		rsiFault(w, "no action")
		return
	}
	name := action.XMLName.Local
	if !s.passHold(r, name) {
		return
	}
	// Escargot: the text of the first child of PassportCookie, first 20
	// characters, is the session token.
	tok := ""
	if pc := root.find("PassportCookie"); pc != nil && len(pc.Children) > 0 {
		tok = pc.Children[0].text()
		if len(tok) > 20 {
			tok = tok[:20]
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionByToken(tok)
	if sess == nil {
		rsiFault(w, "no session")
		return
	}
	if code, ok := s.takeSOAPFault(name); ok {
		rsiFault(w, "injected fault "+code)
		return
	}
	a := sess.acct
	const ns = ` xmlns="http://www.hotmail.msn.com/ws/2004/09/oim/rsi"`
	switch name {
	case "GetMetadata":
		rsiResponse(w, "<GetMetadataResponse"+ns+">"+s.mailDataXML(a, false)+"</GetMetadataResponse>")
	case "GetMessage":
		id := action.find("messageId").text()
		for _, o := range a.oims {
			if strings.EqualFold(o.id, id) {
				rsiResponse(w, "<GetMessageResponse"+ns+"><GetMessageResult>"+esc(formatOIM(o, a))+"</GetMessageResult></GetMessageResponse>")
				return
			}
		}
		rsiFault(w, "no such message")
	case "DeleteMessages":
		ids := action.findAll("messageId")
		if len(ids) == 0 {
			rsiFault(w, "no message ids")
			return
		}
		del := make(map[*storedOIM]bool)
		for _, n := range ids {
			found := false
			for _, o := range a.oims {
				if strings.EqualFold(o.id, n.text()) {
					del[o], found = true, true
				}
			}
			if !found {
				rsiFault(w, "no such message")
				return
			}
		}
		kept := a.oims[:0]
		for _, o := range a.oims {
			if !del[o] {
				kept = append(kept, o)
			}
		}
		clear(a.oims[len(kept):])
		a.oims = kept
		if sess.dialect >= 11 {
			sess.sendPayload("MSG", []byte("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsactivemailnotification; charset=UTF-8\r\n\r\nSrc-Folder: .!!OIM\r\nDest-Folder: .!!trAsH\r\nMessage-Delta: "+strconv.Itoa(len(ids))+"\r\n\r\n"), "Hotmail", "Hotmail")
		}
		rsiResponse(w, "<DeleteMessagesResponse"+ns+" />")
	default:
		rsiFault(w, "unsupported action "+name)
	}
}

// oimFault writes an OIM store fault in the namespace Escargot picks from
// the SOAPAction.
func oimFault(w http.ResponseWriter, ns, code string, challenge bool) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault>`)
	b.WriteString(`<faultcode xmlns:q0="` + ns + `">q0:` + code + `</faultcode>`)
	b.WriteString(`<faultstring>Exception of type System.Web.Services.Protocols.SoapException was thrown.</faultstring><faultactor>https://ows.messenger.msn.com/OimWS/oim.asmx</faultactor>`)
	if challenge {
		b.WriteString(`<detail><TweenerChallenge xmlns="` + ns + `">ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1</TweenerChallenge><LockKeyChallenge xmlns="` + ns + `">` + oimLockKeyChallenge + `</LockKeyChallenge></detail>`)
	}
	b.WriteString(`</soap:Fault></soap:Body></soap:Envelope>`)
	writeXML(w, http.StatusInternalServerError, b.String())
}

var runIDRe = regexp.MustCompile(`^\{?[A-Fa-f0-9]{8}-([A-Fa-f0-9]{4}-){3}[A-Fa-f0-9]{12}\}?$`)

// knownProducts maps product ids to keys for the strict lock key check.
var knownProducts = func() map[string]string {
	m := make(map[string]string)
	for v := 8; v <= 18; v++ {
		p := msnp.ProductFor(v)
		m[p.ID] = p.Key
	}
	m["PROD0119GSJUC$18"] = "ILTXC!4IXB5FB*PX"
	m["PROD0114ES4Z%Q5W"] = "PK}_A_0N_K%O?A9S"
	return m
}()

// handleOIMStore is the OIM store (Store/Store2) with Escargot's checks.
func (s *Server) handleOIMStore(w http.ResponseWriter, r *http.Request) {
	soapAction := strings.Trim(r.Header.Get("SOAPAction"), `"`)
	ns := "http://messenger.live.com/ws/2006/09/oim/"
	if strings.HasPrefix(soapAction, "http://messenger.msn.com/ws/2004/09/oim/") {
		ns = "http://messenger.msn.com/ws/2004/09/oim/"
	}
	if !s.passHold(r, "Store") {
		return
	}
	root, ok := readXMLBody(w, r)
	if !ok {
		return
	}
	ticket, from, to := root.find("Ticket"), root.find("From"), root.find("To")
	if ticket == nil || from == nil || to == nil {
		oimFault(w, ns, "Fault.invalidcontent", false)
		return
	}
	tok := ticket.attr("passport")
	if rest, ok := strings.CutPrefix(tok, "t="); ok {
		tok = rest[:min(len(rest), 20)]
	}
	lockKey := ticket.attr("lockkey")

	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionByToken(tok)
	if sess == nil || lockKey == "" {
		oimFault(w, ns, "AuthenticationFailed", true)
		return
	}
	if s.opts.Microsoft {
		appID := ticket.attr("appid")
		pk, ok := knownProducts[appID]
		if !ok || lockKey != msnp.ChallengeMSNP11(oimLockKeyChallenge, appID, pk) {
			oimFault(w, ns, "AuthenticationFailed", true)
			return
		}
	}
	if code, ok := s.takeSOAPFault("Store"); ok {
		oimFault(w, ns, code, false)
		return
	}
	a := sess.acct
	b := s.accounts[key(to.attr("memberName"))]
	if from.attr("memberName") != a.email || b == nil || isBlocking(b, a) {
		oimFault(w, ns, "Fault.unavailable", false)
		return
	}
	seq := root.find("MessageNumber").text()
	seqN, err := strconv.Atoi(seq)
	if err != nil || seqN < 1 {
		oimFault(w, ns, "Fault.invalidcontent", false)
		return
	}
	if fn := from.attr("friendlyName"); fn != "" {
		if _, err := new(mime.WordDecoder).DecodeHeader(fn); err != nil {
			oimFault(w, ns, "Fault.invalidcontent", false)
			return
		}
	}
	text, runID, ok := parseOIMContent(root.find("Content").Text, seq)
	if !ok {
		oimFault(w, ns, "Fault.invalidcontent", false)
		return
	}
	host := r.RemoteAddr
	if i := strings.LastIndexByte(host, ':'); i > 0 {
		host = host[:i]
	}
	s.saveOIM(a, b, runID, seqN, text, host)
	writeXML(w, http.StatusOK, `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header><SequenceAcknowledgment xmlns="http://schemas.xmlsoap.org/ws/2003/03/rm"><Identifier xmlns="http://schemas.xmlsoap.org/ws/2002/07/utility">http://messenger.msn.com</Identifier><AcknowledgmentRange Upper="`+seq+`" Lower="`+seq+`" /></SequenceAcknowledgment></soap:Header><soap:Body><StoreResponse xmlns="`+ns+`"><PointsConsumed>0</PointsConsumed></StoreResponse></soap:Body></soap:Envelope>`)
}

// parseOIMContent checks a stored message's MIME text as Escargot does and
// returns its text and run id.
func parseOIMContent(content, seq string) (text, runID string, ok bool) {
	content = strings.ReplaceAll(content, "\r\n", "\n")
	head, body, found := strings.Cut(content, "\n\n")
	if !found {
		return "", "", false
	}
	h := make(textproto.MIMEHeader)
	for _, line := range strings.Split(head, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			return "", "", false
		}
		h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	runID = h.Get("X-OIM-Run-Id")
	if !runIDRe.MatchString(runID) || h.Get("MIME-Version") != "1.0" ||
		!strings.HasPrefix(h.Get("Content-Type"), "text/plain") || h.Get("Content-Transfer-Encoding") != "base64" ||
		h.Get("X-OIM-Message-Type") != "OfflineMessage" || h.Get("X-OIM-Sequence-Num") != seq {
		return "", "", false
	}
	for _, line := range strings.Split(body, "\n") {
		if len(line) > 77 {
			return "", "", false
		}
	}
	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(body), ""))
	if err != nil || !utf8.Valid(raw) {
		return "", "", false
	}
	return string(raw), strings.ToUpper(strings.Trim(runID, "{}")), true
}

// cmdUUM is Escargot's MSNP18 offline message: stored only when the
// recipient appears offline; never answered.
func (sess *nsSession) cmdUUM(cmd *msnp.Command) bool {
	if sess.dialect < 14 {
		return true
	}
	email, netID, typ := cmd.Arg(1), cmd.Arg(2), cmd.Arg(3)
	switch typ {
	case "1", "2", "3", "4":
	default:
		return true
	}
	n, err := strconv.Atoi(netID)
	if err != nil {
		return true
	}
	if n != 1 {
		return false // other networks: ignored
	}
	if sess.dialect < 18 || typ != "1" {
		return true
	}
	s := sess.s
	b := s.accounts[key(email)]
	if b == nil || s.visibleStatus(b) != "FLN" || isBlocking(b, sess.acct) {
		return false
	}
	head, text, ok := strings.Cut(strings.ReplaceAll(string(cmd.Payload), "\r\n", "\n"), "\n\n")
	if !ok {
		return false
	}
	h := make(textproto.MIMEHeader)
	for _, line := range strings.Split(head, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	// Escargot quirk 38: without Dest-Agent: client the message is dropped.
	if !strings.HasPrefix(h.Get("Content-Type"), "text/plain") || h.Get("Dest-Agent") != "client" || !utf8.ValidString(text) {
		sess.log.Debug().Msg("dropping UUM without text/plain or Dest-Agent: client")
		return false
	}
	s.saveOIM(sess.acct, b, strings.ToUpper(msnp.NewUUID()), 1, text, "127.0.0.1")
	return false
}

// attr returns the value of an attribute by local name.
func (n *xmlNode) attr(local string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attrs {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}
