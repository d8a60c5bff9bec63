package msntest

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

const zeroABID = "00000000-0000-0000-0000-000000000000"

func abDate() string { return time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z") }

// soapRequest is an authenticated ABCH/sharing request.
type soapRequest struct {
	root   *xmlNode
	action *xmlNode // first element in Body
	sess   *nsSession
	acct   *account
}

// soapAuth parses and authenticates an ABCH request as Escargot does:
// TicketToken (t=<token>... or the bare token), else the MSPAuth cookie; the
// token must belong to a live NS login. On failure it has written the
// response (500 without token, 403 for an unknown one, the fault queued by
// FailNextSOAP) and returns nil.
// On success Server.mu is held; the caller must unlock it.
func (s *Server) soapAuth(w http.ResponseWriter, r *http.Request) *soapRequest {
	body, err := readBody(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return nil
	}
	root, err := parseXML(body)
	if err != nil {
		writeXML(w, http.StatusInternalServerError, soapFault("soap:Client", "Invalid request: malformed XML", "", ""))
		return nil
	}
	var tok string
	if t := root.find("TicketToken"); t != nil {
		tok = ticketToken(t.text())
	} else if c, err := r.Cookie("MSPAuth"); err == nil {
		tok = c.Value
		if len(tok) > 20 {
			tok = tok[:20]
		}
	}
	if tok == "" {
		w.WriteHeader(http.StatusInternalServerError)
		return nil
	}
	body0 := root.find("Body")
	if body0 == nil || len(body0.Children) == 0 {
		writeXML(w, http.StatusInternalServerError, soapFault("soap:Client", "Invalid request: no action", "", ""))
		return nil
	}
	s.mu.Lock()
	sess := s.sessionByToken(tok)
	if sess == nil {
		s.mu.Unlock()
		w.WriteHeader(http.StatusForbidden)
		return nil
	}
	if code, ok := s.takeSOAPFault(body0.Children[0].XMLName.Local); ok {
		s.mu.Unlock()
		writeFault(w, http.StatusInternalServerError, body0.Children[0].XMLName.Local, code, "Injected fault")
		return nil
	}
	return &soapRequest{root: root, action: body0.Children[0], sess: sess, acct: sess.acct}
}

// soapHandler serves a SOAP service: it authenticates each request with
// soapAuth and calls serve with Server.mu held.
func (s *Server) soapHandler(serve func(w http.ResponseWriter, req *soapRequest, action string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		req := s.soapAuth(w, r)
		if req == nil {
			return
		}
		defer s.mu.Unlock()
		serve(w, req, req.action.XMLName.Local)
	}
}

func soapHeader() string {
	return `<soap:Header><ServiceHeader xmlns="http://www.msn.com/webservices/AddressBook"><Version>15.01.1408.0000</Version><CacheKey>12r1:` + msnp.RandomHex(20) +
		`</CacheKey><CacheKeyChanged>true</CacheKeyChanged><PreferredHostName>localhost</PreferredHostName><SessionId>` + msnp.NewUUID() + `</SessionId></ServiceHeader></soap:Header>`
}

// soapEnvelope wraps a body in the ABCH envelope.
func soapEnvelope(body string) string {
	return `<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema">` +
		soapHeader() + `<soap:Body>` + body + `</soap:Body></soap:Envelope>`
}

// soapFault builds an ABCH fault; errorCode (e.g. "InvalidPassportUser")
// goes in the detail when set.
func soapFault(faultCode, faultString, action, errorCode string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema"><soap:Body><soap:Fault>`)
	b.WriteString("<faultcode>" + faultCode + "</faultcode><faultstring>" + esc(faultString) + "</faultstring>")
	if action != "" {
		b.WriteString("<faultactor>http://www.msn.com/webservices/AddressBook/" + esc(action) + "</faultactor>")
	}
	if errorCode != "" {
		b.WriteString(`<detail><errorcode xmlns="http://www.msn.com/webservices/AddressBook">` + esc(errorCode) + `</errorcode><errorstring xmlns="http://www.msn.com/webservices/AddressBook">` + esc(faultString) + `</errorstring><machineName xmlns="http://www.msn.com/webservices/AddressBook">msntest</machineName></detail>`)
	}
	b.WriteString("</soap:Fault></soap:Body></soap:Envelope>")
	return b.String()
}

// faultFor writes an ABCH fault: Escargot answers "full sync required" and
// unsupported actions with HTTP 200, validation failures with HTTP 500.
func writeFault(w http.ResponseWriter, status int, action, errorCode, text string) {
	writeXML(w, status, soapFault("soap:Client", text, action, errorCode))
}

func isTrue(n *xmlNode) bool { return strings.EqualFold(n.text(), "true") }

// refusesDeltas writes a FullSyncRequired fault for delta requests.
func refusesDeltas(w http.ResponseWriter, req *soapRequest) bool {
	if isTrue(req.action.find("deltasOnly")) || isTrue(req.action.find("DeltasOnly")) {
		writeFault(w, http.StatusOK, req.action.XMLName.Local, "FullSyncRequired", "Full sync required.  Details: Delta syncs disabled.")
		return true
	}
	return false
}

func unsupported(w http.ResponseWriter, action string) {
	writeFault(w, http.StatusOK, action, "Forbidden", fmt.Sprintf("API %s no longer supported", action))
}
