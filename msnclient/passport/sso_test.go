package passport

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
)

// rstRequest is what a fake STS reads from a request, the way Escargot
// does: by local names, ignoring namespaces.
type rstRequest struct {
	Path        string
	ContentType string
	Envelope    string // envelope namespace
	Username    string
	Password    string
	Addresses   []string
	Policies    map[string]string // address -> PolicyReference URI
	Raw         []byte
}

func parseRSTRequest(t *testing.T, r *http.Request) rstRequest {
	t.Helper()
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		t.Errorf("read request: %v", err)
	}
	req := rstRequest{Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Policies: map[string]string{}, Raw: raw}
	var lastAddr string
	err = testutil.WalkXML(raw, func(el xml.StartElement, _ string) {
		if el.Name.Local == "Envelope" {
			req.Envelope = el.Name.Space
		}
		if el.Name.Local == "PolicyReference" {
			for _, a := range el.Attr {
				if a.Name.Local == "URI" {
					req.Policies[lastAddr] = a.Value
				}
			}
		}
	}, func(local, text string) {
		switch local {
		case "Username":
			req.Username = text
		case "Password":
			req.Password = text
		case "Address":
			lastAddr = text
			req.Addresses = append(req.Addresses, lastAddr)
		}
	})
	if err != nil {
		t.Errorf("request: %v\n%s", err, raw)
	}
	return req
}

// fakeSTS serves fixed bodies and records requests.
type fakeSTS struct {
	t      *testing.T
	status int
	body   string
	mu     sync.Mutex
	reqs   []rstRequest
}

func (f *fakeSTS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req := parseRSTRequest(f.t, r)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(f.status)
	_, _ = io.WriteString(w, f.body)
}

func (f *fakeSTS) lastRequest() rstRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		f.t.Fatal("server received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

func startSTS(t *testing.T, status int, body string) (*fakeSTS, *httptest.Server) {
	t.Helper()
	f := &fakeSTS{t: t, status: status, body: body}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRequestSecurityTokensRST(t *testing.T) {
	sts, srv := startSTS(t, http.StatusOK, escargotRST(false))
	const password = `p<&>"'ss]]>`
	tokens, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST.srf", false, "alice&bob@example.com", password, "MBI_KEY_OLD")
	if err != nil {
		t.Fatalf("RequestSecurityTokens: %v", err)
	}
	req := sts.lastRequest()
	if req.Path != "/RST.srf" {
		t.Errorf("request path = %q, want /RST.srf", req.Path)
	}
	if req.Envelope != "http://schemas.xmlsoap.org/soap/envelope/" {
		t.Errorf("envelope namespace = %q, want SOAP 1.1", req.Envelope)
	}
	if !strings.HasPrefix(req.ContentType, "text/xml") {
		t.Errorf("Content-Type = %q, want text/xml", req.ContentType)
	}
	if req.Username != "alice&bob@example.com" || req.Password != password {
		t.Errorf("server read credentials %q / %q, want them unchanged", req.Username, req.Password)
	}
	if bytes.Contains(req.Raw, []byte(password)) {
		t.Error("password was sent without XML escaping")
	}
	wantAddrs := []string{AddrPassportTB, AddrMessengerClear, AddrMessenger, AddrContacts, AddrMessengerSecure, AddrSpaces, AddrStorage}
	if strings.Join(req.Addresses, ",") != strings.Join(wantAddrs, ",") {
		t.Errorf("requested addresses = %v, want %v", req.Addresses, wantAddrs)
	}
	if got := req.Policies[AddrMessengerClear]; got != "MBI_KEY_OLD" {
		t.Errorf("messengerclear policy = %q, want the one from USR (MBI_KEY_OLD)", got)
	}
	if got := req.Policies[AddrContacts]; got != "MBI" {
		t.Errorf("contacts policy = %q, want MBI", got)
	}

	mc := tokens.MessengerClear()
	if mc.Ticket != testTicket {
		t.Errorf("messengerclear ticket = %q, want the unescaped compact ticket", mc.Ticket)
	}
	if mc.BinarySecret != testSecret {
		t.Errorf("messengerclear binary secret = %q, want %q", mc.BinarySecret, testSecret)
	}
	if !mc.Expires.Equal(time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)) {
		t.Errorf("messengerclear expiry = %v", mc.Expires)
	}
	if got := tokens.Contacts().Ticket; got != testTicket {
		t.Errorf("contacts ticket = %q", got)
	}
	if got := tokens.BinarySecret(AddrContacts); got != "" {
		t.Errorf("contacts binary secret = %q, want none", got)
	}
	if got := tokens.Ticket("MessengerClear.Live.com"); got != testTicket {
		t.Error("address lookup should be case-insensitive")
	}
}

func TestRequestSecurityTokensRST2(t *testing.T) {
	sts, srv := startSTS(t, http.StatusOK, escargotRST(true))
	tokens, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST2.srf", true, "alice@example.com", "secret", "MBI_KEY")
	if err != nil {
		t.Fatalf("RequestSecurityTokens: %v", err)
	}
	req := sts.lastRequest()
	if req.Path != "/RST2.srf" {
		t.Errorf("request path = %q, want /RST2.srf", req.Path)
	}
	if req.Envelope != "http://www.w3.org/2003/05/soap-envelope" {
		t.Errorf("envelope namespace = %q, want SOAP 1.2", req.Envelope)
	}
	if req.Policies[AddrMessengerClear] != "MBI_KEY" {
		t.Errorf("messengerclear policy = %q, want MBI_KEY", req.Policies[AddrMessengerClear])
	}
	if tokens.MessengerClear().Ticket != testTicket || tokens.MessengerClear().BinarySecret != testSecret {
		t.Errorf("messengerclear token = %v", tokens.MessengerClear())
	}
	if tokens.Ticket(AddrStorage) != testTicket {
		t.Errorf("storage ticket missing; have %v", tokens.Addresses())
	}
}

// Tokens are matched by Address, not by position or Compact number.
func TestRSTTokensMatchedByAddress(t *testing.T) {
	body := rstEnvelope(false,
		rstTokenXML(false, 7, AddrContacts, "cccccccccccccccccccc", "")+
			rstTokenXML(false, 3, AddrMessengerClear, "mmmmmmmmmmmmmmmmmmmm", "c2VjcmV0"))
	_, srv := startSTS(t, http.StatusOK, body)
	tokens, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw", "MBI_KEY_OLD")
	if err != nil {
		t.Fatalf("RequestSecurityTokens: %v", err)
	}
	if got := tokens.MessengerClear().Ticket; !strings.HasPrefix(got, "t=mmmmmmmmmmmmmmmmmmmm") {
		t.Errorf("messengerclear ticket = %q", got)
	}
	if got := tokens.MessengerClear().BinarySecret; got != "c2VjcmV0" {
		t.Errorf("messengerclear secret = %q", got)
	}
	if got := tokens.Contacts().Ticket; !strings.HasPrefix(got, "t=cccccccccccccccccccc") {
		t.Errorf("contacts ticket = %q", got)
	}
}

func TestRequestSecurityTokensFaults(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     string
		badCreds bool
		contains string
	}{
		{"rst auth failed HTTP 200", http.StatusOK, rst1AuthFailed, true, "Authentication Failure"},
		{"rst2 auth failed HTTP 200", http.StatusOK, rst2AuthFailed, true, "Authentication Failure"},
		{"rst2 auth failed HTTP 500", http.StatusInternalServerError, rst2AuthFailed, true, "Authentication Failure"},
		{"rst invalid request", http.StatusOK, rst1InvalidRequest, false, "Invalid Request"},
		{"rst2 invalid request", http.StatusOK, rst2InvalidRequest, false, "0x80048820"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSTS(t, tc.status, tc.body)
			tokens, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw", "MBI_KEY_OLD")
			if err == nil {
				t.Fatalf("got tokens %v, want an error", tokens)
			}
			if got := errors.Is(err, ErrBadCredentials); got != tc.badCreds {
				t.Errorf("errors.Is(err, ErrBadCredentials) = %v, want %v (err: %v)", got, tc.badCreds, err)
			}
			var fe *FaultError
			if !errors.As(err, &fe) {
				t.Errorf("error %v is not a *FaultError", err)
			}
			if !strings.Contains(err.Error(), tc.contains) {
				t.Errorf("error %q does not mention %q", err, tc.contains)
			}
		})
	}
}

func TestRequestSecurityTokensBadResponses(t *testing.T) {
	huge := rstEnvelope(false, strings.Repeat(" ", maxBody))
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"bare 500", http.StatusInternalServerError, "", "HTTP status 500"},
		{"404 html", http.StatusNotFound, "<html><body>not found</body></html>", "404"},
		{"not xml", http.StatusOK, "hello", "parse XML"},
		{"doctype", http.StatusOK, `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><Envelope>&lol;</Envelope>`, "document type"},
		{"too large", http.StatusOK, huge, "larger than"},
		{"no messengerclear", http.StatusOK, rstEnvelope(false, rstTokenXML(false, 2, AddrContacts, testPPToken, "")), "no messengerclear.live.com ticket"},
		{"empty collection", http.StatusOK, rstEnvelope(false, ""), "no messengerclear.live.com ticket"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := startSTS(t, tc.status, tc.body)
			_, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw", "MBI_KEY_OLD")
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrBadCredentials) {
				t.Errorf("error %v must not claim bad credentials", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestRequestSecurityTokensRejectsBadInput(t *testing.T) {
	_, srv := startSTS(t, http.StatusOK, escargotRST(false))
	ctx := testCtx(t)
	if _, err := RequestSecurityTokens(ctx, srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw\x00", "MBI_KEY_OLD"); err == nil {
		t.Error("password with NUL accepted")
	} else if strings.Contains(err.Error(), "pw") {
		t.Errorf("error %q reveals the password", err)
	}
	if _, err := RequestSecurityTokens(ctx, srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw", ""); err == nil {
		t.Error("empty policy accepted")
	}
	if _, err := RequestSecurityTokens(ctx, srv.Client(), "", false, "a@b.c", "pw", "MBI_KEY_OLD"); err == nil {
		t.Error("empty URL accepted")
	}
}

func TestTokensDoNotPrintSecrets(t *testing.T) {
	res, err := parseRSTResponse([]byte(escargotRST(false)))
	if err != nil {
		t.Fatal(err)
	}
	mc := res.tokens.MessengerClear()
	for _, s := range []string{
		mc.String(),
		strings.Join([]string{res.tokens.String(), res.tokens.GoString()}, " "),
		sprintAll(mc, res.tokens),
	} {
		if strings.Contains(s, testPPToken) || strings.Contains(s, testSecret) {
			t.Errorf("formatted tokens reveal a secret: %s", s)
		}
	}
	if !strings.Contains(mc.String(), AddrMessengerClear) {
		t.Errorf("String() = %q, want the address", mc.String())
	}
}

func TestEmptyFaultIsAFault(t *testing.T) {
	_, srv := startSTS(t, http.StatusOK, `<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body><S:Fault/></S:Body></S:Envelope>`)
	_, err := RequestSecurityTokens(testCtx(t), srv.Client(), srv.URL+"/RST.srf", false, "a@b.c", "pw", "MBI_KEY_OLD")
	var fe *FaultError
	if !errors.As(err, &fe) || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want a *FaultError that is not bad credentials", err)
	}
}
