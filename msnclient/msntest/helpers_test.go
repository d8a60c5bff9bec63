package msntest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Generous timeout for a loaded CI machine.
const waitTimeout = 15 * time.Second

// tconn is a raw MSNP client connection for tests.
type tconn struct {
	t    testing.TB
	c    net.Conn
	r    *msnp.Reader
	w    *msnp.Writer
	trid int
}

func dial(t testing.TB, addr string) *tconn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &tconn{t: t, c: c, r: msnp.NewReader(c, msnp.FromServer), w: msnp.NewWriter(c)}
}

// send sends a command with the next trid and returns the trid.
func (tc *tconn) send(name string, args ...string) string {
	tc.t.Helper()
	tc.trid++
	id := strconv.Itoa(tc.trid)
	if err := tc.w.WriteCommand(msnp.New(name, append([]string{id}, args...)...)); err != nil {
		tc.t.Fatalf("send %s: %v", name, err)
	}
	return id
}

func (tc *tconn) sendPayload(name string, payload []byte, args ...string) string {
	tc.t.Helper()
	tc.trid++
	id := strconv.Itoa(tc.trid)
	if err := tc.w.WriteCommand(msnp.NewPayload(name, payload, append([]string{id}, args...)...)); err != nil {
		tc.t.Fatalf("send %s: %v", name, err)
	}
	return id
}

func (tc *tconn) sendRaw(line string) {
	tc.t.Helper()
	if _, err := tc.c.Write([]byte(line)); err != nil {
		tc.t.Fatalf("write: %v", err)
	}
}

func (tc *tconn) read() (*msnp.Command, error) {
	tc.c.SetReadDeadline(time.Now().Add(waitTimeout))
	return tc.r.ReadCommand()
}

// next reads the next command, failing the test on error.
func (tc *tconn) next() *msnp.Command {
	tc.t.Helper()
	cmd, err := tc.read()
	if err != nil {
		tc.t.Fatalf("read: %v", err)
	}
	return cmd
}

// expect reads the next command and checks its line (name and args joined by
// spaces, payload excluded).
func (tc *tconn) expect(line string) *msnp.Command {
	tc.t.Helper()
	cmd := tc.next()
	if got := lineOf(cmd); got != line {
		tc.t.Fatalf("got %q, want %q", got, line)
	}
	return cmd
}

// expectName reads the next command and checks its name.
func (tc *tconn) expectName(name string) *msnp.Command {
	tc.t.Helper()
	cmd := tc.next()
	if cmd.Name != name {
		tc.t.Fatalf("got %q, want a %s line", lineOf(cmd), name)
	}
	return cmd
}

// skipUntil reads commands until one with the given name.
func (tc *tconn) skipUntil(name string) *msnp.Command {
	tc.t.Helper()
	for {
		cmd := tc.next()
		if cmd.Name == name {
			return cmd
		}
	}
}

// expectClosed checks that the server closes the connection (after any
// lines still queued, which are returned).
func (tc *tconn) expectClosed() []string {
	tc.t.Helper()
	var lines []string
	for {
		cmd, err := tc.read()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "reset") {
				return lines
			}
			tc.t.Fatalf("expected the connection to close, got %v", err)
		}
		lines = append(lines, lineOf(cmd))
	}
}

func lineOf(cmd *msnp.Command) string {
	return strings.Join(append([]string{cmd.Name}, cmd.Args...), " ")
}

// sync sends PNG and waits for its QNG: everything the server queued before
// has been read by then.
func (tc *tconn) sync() []*msnp.Command {
	tc.t.Helper()
	if err := tc.w.WriteCommand(msnp.New("PNG")); err != nil {
		tc.t.Fatalf("send PNG: %v", err)
	}
	var before []*msnp.Command
	for {
		cmd := tc.next()
		if cmd.Name == "QNG" {
			return before
		}
		before = append(before, cmd)
	}
}

func cvr(tc *tconn, email string) {
	tc.t.Helper()
	id := tc.send("CVR", "0x0409", "winnt", "5.1", "i386", "MSNMSGR", "8.5.1302", "msmsgs", email)
	tc.expect("CVR " + id + " 8.5.1302 8.5.1302 8.5.1302 https://escargot.log1p.xyz https://escargot.log1p.xyz")
}

// tweenerLogin does the nexus and /login steps and returns the ticket.
func tweenerLogin(t testing.TB, s *Server, email, password string) (string, error) {
	t.Helper()
	resp, err := http.Get(s.HTTPURL() + "/rdr/pprdr.asp")
	if err != nil {
		t.Fatalf("nexus: %v", err)
	}
	resp.Body.Close()
	var login string
	for _, part := range strings.Split(resp.Header.Get("PassportURLs"), ",") {
		if v, ok := strings.CutPrefix(part, "DALogin="); ok {
			login = v
		}
	}
	if login != s.HTTPURL()+"/login" {
		t.Fatalf("nexus DALogin = %q", login)
	}
	req, _ := http.NewRequest("GET", login, nil)
	req.Header.Set("Authorization", "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in="+url.PathEscape(email)+",pwd="+url.PathEscape(password)+",ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	info := resp.Header.Get("Authentication-Info")
	_, rest, ok := strings.Cut(info, "from-PP='")
	tok, _, ok2 := strings.Cut(rest, "'")
	if !ok || !ok2 || !strings.HasPrefix(info, "Passport1.4 da-status=success,") {
		t.Fatalf("bad Authentication-Info %q", info)
	}
	return tok, nil
}

// rstTokens posts an RST request and returns tickets and the binary secret
// by address.
type rstResult struct {
	fault   bool
	tickets map[string]string
	secret  string
}

func requestRST(t testing.TB, base string, client *http.Client, v2 bool, email, password string) rstResult {
	t.Helper()
	path := "/RST.srf"
	env := "http://schemas.xmlsoap.org/soap/envelope/"
	if v2 {
		path, env = "/RST2.srf", "http://www.w3.org/2003/05/soap-envelope"
	}
	var addrs strings.Builder
	for i, a := range []string{"http://Passport.NET/tb", "messengerclear.live.com", "messenger.msn.com", "contacts.msn.com"} {
		fmt.Fprintf(&addrs, `<wst:RequestSecurityToken Id="RST%d"><wst:RequestType>http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue</wst:RequestType><wsp:AppliesTo><wsa:EndpointReference><wsa:Address>%s</wsa:Address></wsa:EndpointReference></wsp:AppliesTo></wst:RequestSecurityToken>`, i, a)
	}
	body := `<?xml version="1.0" encoding="UTF-8"?><Envelope xmlns="` + env + `" xmlns:wsse="http://schemas.xmlsoap.org/ws/2003/06/secext" xmlns:wst="http://schemas.xmlsoap.org/ws/2004/04/trust" xmlns:wsp="http://schemas.xmlsoap.org/ws/2002/12/policy" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/03/addressing" xmlns:ps="http://schemas.microsoft.com/Passport/SoapServices/PPCRL">` +
		`<Header><wsse:Security><wsse:UsernameToken Id="user"><wsse:Username>` + esc(email) + `</wsse:Username><wsse:Password>` + esc(password) + `</wsse:Password></wsse:UsernameToken></wsse:Security></Header>` +
		`<Body><ps:RequestMultipleSecurityTokens Id="RSTS">` + addrs.String() + `</ps:RequestMultipleSecurityTokens></Body></Envelope>`
	resp, err := client.Post(base+path, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		t.Fatalf("RST: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("RST status %d", resp.StatusCode)
	}
	root, err := parseXML(raw)
	if err != nil {
		t.Fatalf("RST response: %v\n%s", err, raw)
	}
	res := rstResult{tickets: map[string]string{}}
	if root.find("Fault") != nil {
		res.fault = true
		return res
	}
	for _, r := range root.findAll("RequestSecurityTokenResponse") {
		addr := r.find("Address").text()
		if bst := r.find("BinarySecurityToken"); bst != nil {
			res.tickets[addr] = bst.text()
		}
		if addr == "messengerclear.live.com" {
			res.secret = r.find("BinarySecret").text()
		}
	}
	return res
}

type testLogin struct {
	dialect  int
	guid     string // MSNP16+
	password string
	addr     string // NS address; default s.NSAddr()
}

// login connects and logs in with the dialect's method, reading up to and
// including the post-login lines. It returns the connection and the ticket.
func login(t testing.TB, s *Server, email string, o testLogin) (*tconn, string) {
	t.Helper()
	if o.password == "" {
		o.password = "pass"
	}
	if o.addr == "" {
		o.addr = s.NSAddr()
	}
	tc := dial(t, o.addr)
	ver := "MSNP" + strconv.Itoa(o.dialect)
	id := tc.send("VER", ver, "CVR0")
	tc.expect("VER " + id + " " + ver)
	cvr(tc, email)
	var ticket string
	if o.dialect < 15 {
		id = tc.send("USR", "TWN", "I", email)
		if o.dialect >= 13 {
			tc.expectName("GCF")
		}
		tc.expect("USR " + id + " TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
		tok, err := tweenerLogin(t, s, email, o.password)
		if err != nil {
			t.Fatalf("tweener login: %v", err)
		}
		ticket = tok
		id = tc.send("USR", "TWN", "S", tok)
	} else {
		id = tc.send("USR", "SSO", "I", email)
		tc.expectName("GCF")
		usr := tc.expectName("USR")
		if len(usr.Args) != 5 || usr.Args[0] != id || usr.Args[1] != "SSO" || usr.Args[3] != "MBI_KEY_OLD" || len(usr.Args[4]) != 64 {
			t.Fatalf("bad USR SSO S line %q", lineOf(usr))
		}
		res := requestRST(t, s.HTTPURL(), http.DefaultClient, o.dialect >= 18, email, o.password)
		if res.fault {
			t.Fatalf("RST fault")
		}
		ticket = res.tickets["messengerclear.live.com"]
		blob, err := msnp.MBIResponse(res.secret, usr.Args[4], []byte("12345678"))
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"SSO", "S", ticket, blob}
		if o.dialect >= 16 {
			args = append(args, o.guid)
		}
		id = tc.send("USR", args...)
	}
	if o.dialect <= 9 {
		tc.expectName("USR")
	} else {
		tc.expect("USR " + id + " OK " + email + " 1 0")
	}
	if o.dialect >= 11 {
		tc.expect("SBS 0 null")
	}
	tc.expect("MSG Hotmail Hotmail")
	switch {
	case o.dialect >= 18:
		tc.expect("UBX 1:" + email)
	case o.dialect >= 16:
		tc.expect("UBX " + email + " 1")
	}
	return tc, ticket
}

// soapCall posts an ABCH request with the ticket.
func soapCall(t testing.TB, s *Server, service, action, ticket, inner string) (int, *xmlNode) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Header>` +
		`<ABApplicationHeader xmlns="http://www.msn.com/webservices/AddressBook"><ApplicationId>CFE80F9D-180F-4399-82AB-413F33A1FA11</ApplicationId><IsMigration>false</IsMigration><PartnerScenario>Initial</PartnerScenario></ABApplicationHeader>` +
		`<ABAuthHeader xmlns="http://www.msn.com/webservices/AddressBook"><ManagedGroupRequest>false</ManagedGroupRequest><TicketToken>` + esc(ticket) + `</TicketToken></ABAuthHeader></soap:Header>` +
		`<soap:Body><` + action + ` xmlns="http://www.msn.com/webservices/AddressBook">` + inner + `</` + action + `></soap:Body></soap:Envelope>`
	req, _ := http.NewRequest("POST", s.HTTPURL()+"/abservice/"+service, strings.NewReader(body))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"http://www.msn.com/webservices/AddressBook/`+action+`"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil
	}
	var root xmlNode
	if err := xml.Unmarshal(raw, &root); err != nil {
		t.Fatalf("%s response: %v\n%s", action, err, raw)
	}
	return resp.StatusCode, &root
}

func mustAdd(t testing.TB, s *Server, email, name string) {
	t.Helper()
	if err := s.AddAccount(email, "pass", name); err != nil {
		t.Fatal(err)
	}
}

func mustContact(t testing.TB, s *Server, owner, contact string, lists uint8) {
	t.Helper()
	if err := s.AddContact(owner, contact, lists); err != nil {
		t.Fatal(err)
	}
}

func mustCmd(name string, args ...string) *msnp.Command { return msnp.New(name, args...) }

func mbi(secret, nonce string) (string, error) {
	return msnp.MBIResponse(secret, nonce, []byte("abcdefgh"))
}

func httpsClient(t testing.TB, caPEM []byte) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func (s *Server) accountUUID(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[key(email)].uuid
}

func waitOffline(s *Server, email string) error {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		s.mu.Lock()
		online := s.isOnlineLocked(email)
		ch := s.changed
		s.mu.Unlock()
		if !online {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%s still online", email)
		}
	}
}
