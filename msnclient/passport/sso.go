package passport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// maxBody bounds every response body read from the services.
const maxBody = 1 << 20

// service is one entry of RequestMultipleSecurityTokens.
type service struct {
	address string
	policy  string
}

// services returns the standard token list; policy is the one USR SSO S
// names for messengerclear.live.com (e.g. "MBI_KEY_OLD").
func services(policy string) []service {
	return []service{
		{AddrPassportTB, ""},
		{AddrMessengerClear, policy},
		{AddrMessenger, "?id=507"},
		{AddrContacts, "MBI"},
		{AddrMessengerSecure, "MBI_SSL"},
		{AddrSpaces, "MBI"},
		{AddrStorage, "MBI_SSL"},
	}
}

// RequestSecurityTokens logs in to the security token service at rstURL and
// returns the tokens for the standard Messenger services. v2 selects RST2
// (SOAP 1.2, /RST2.srf, MSNP18) instead of RST (SOAP 1.1, /RST.srf,
// MSNP15-17). policy is the policy from "USR … SSO S <policy> <nonce>".
//
// Rejected credentials give an error matching ErrBadCredentials; other
// faults give a *FaultError. The response must contain a
// messengerclear.live.com ticket.
func RequestSecurityTokens(ctx context.Context, client *http.Client, rstURL string, v2 bool, email, password, policy string) (*Tokens, error) {
	if client == nil {
		return nil, errors.New("passport: nil HTTP client")
	}
	if rstURL == "" {
		return nil, errors.New("passport: no RST URL configured")
	}
	if policy == "" {
		return nil, errors.New("passport: empty messengerclear.live.com policy")
	}
	body, err := buildRST(v2, rstURL, email, password, policy, time.Now())
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rstURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("passport: build RST request: %w", err)
	}
	if v2 {
		req.Header.Set("Content-Type", "application/soap+xml; charset=utf-8")
	} else {
		req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	}
	log := zerolog.Ctx(ctx)
	log.Debug().Str("url", rstURL).Bool("rst2", v2).Str("policy", policy).Msg("Requesting security tokens")
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("passport: RST request: %w", err)
	}
	defer resp.Body.Close()
	data, err := xmlsafe.ReadAll(resp.Body, maxBody)
	if err != nil {
		return nil, fmt.Errorf("passport: RST response (HTTP %d): %w", resp.StatusCode, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &StatusError{Op: "RST", StatusCode: resp.StatusCode}
	}
	res, err := parseRSTResponse(data)
	if err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("passport: RST response: %w (%w)", &StatusError{Op: "RST", StatusCode: resp.StatusCode}, err)
		}
		return nil, fmt.Errorf("passport: RST response: %w", err)
	}
	if res.fault != nil {
		log.Debug().Int("status", resp.StatusCode).Str("fault", res.fault.Error()).Msg("Security token service returned a fault")
		return nil, res.fault
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &StatusError{Op: "RST", StatusCode: resp.StatusCode}
	}
	if res.tokens.MessengerClear().Ticket == "" {
		return nil, fmt.Errorf("passport: RST response has no %s ticket", AddrMessengerClear)
	}
	log.Debug().Strs("addresses", res.tokens.Addresses()).Msg("Got security tokens")
	return res.tokens, nil
}

// Namespaces of the two request dialects.
type rstDialect struct {
	envelope, wsse, wsp, wsa, wssc, wst, issue string
}

var (
	rst1 = rstDialect{
		envelope: "http://schemas.xmlsoap.org/soap/envelope/",
		wsse:     "http://schemas.xmlsoap.org/ws/2003/06/secext",
		wsp:      "http://schemas.xmlsoap.org/ws/2002/12/policy",
		wsa:      "http://schemas.xmlsoap.org/ws/2004/03/addressing",
		wssc:     "http://schemas.xmlsoap.org/ws/2004/04/sc",
		wst:      "http://schemas.xmlsoap.org/ws/2004/04/trust",
		issue:    "http://schemas.xmlsoap.org/ws/2004/04/security/trust/Issue",
	}
	rst2 = rstDialect{
		envelope: "http://www.w3.org/2003/05/soap-envelope",
		wsse:     "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
		wsp:      "http://schemas.xmlsoap.org/ws/2004/09/policy",
		wsa:      "http://www.w3.org/2005/08/addressing",
		wssc:     "http://schemas.xmlsoap.org/ws/2005/02/sc",
		wst:      "http://schemas.xmlsoap.org/ws/2005/02/trust",
		issue:    "http://schemas.xmlsoap.org/ws/2005/02/trust/Issue",
	}
)

const (
	nsWSU   = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
	nsSAML  = "urn:oasis:names:tc:SAML:1.0:assertion"
	nsPPCRL = "http://schemas.microsoft.com/Passport/SoapServices/PPCRL"
)

// buildRST renders the RequestMultipleSecurityTokens envelope. Every value
// taken from the caller is XML-escaped.
func buildRST(v2 bool, rstURL, email, password, policy string, now time.Time) ([]byte, error) {
	escEmail, err := xmlsafe.Escape(email)
	if err != nil {
		return nil, fmt.Errorf("passport: email %w", err)
	}
	escPassword, err := xmlsafe.Escape(password)
	if err != nil {
		return nil, errors.New("passport: password contains characters not allowed in XML")
	}
	d := rst1
	if v2 {
		d = rst2
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	fmt.Fprintf(&b, `<s:Envelope xmlns:s="%s" xmlns:wsse="%s" xmlns:saml="%s" xmlns:wsp="%s" xmlns:wsu="%s" xmlns:wsa="%s" xmlns:wssc="%s" xmlns:wst="%s">`,
		d.envelope, d.wsse, nsSAML, d.wsp, nsWSU, d.wsa, d.wssc, d.wst)
	b.WriteString(`<s:Header>`)
	if v2 {
		to, err := xmlsafe.Escape(rstURL)
		if err != nil {
			return nil, fmt.Errorf("passport: RST URL %w", err)
		}
		b.WriteString(`<wsa:Action s:mustUnderstand="1">http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue</wsa:Action>`)
		fmt.Fprintf(&b, `<wsa:To s:mustUnderstand="1">%s</wsa:To>`, to)
		fmt.Fprintf(&b, `<wsa:MessageID>%s</wsa:MessageID>`, msnp.RandomHex(8))
	}
	fmt.Fprintf(&b, `<ps:AuthInfo xmlns:ps="%s" Id="PPAuthInfo">`, nsPPCRL)
	b.WriteString(`<ps:HostingApp>{7108E71A-9926-4FCB-BCC9-9A9D3F32E423}</ps:HostingApp>`)
	b.WriteString(`<ps:BinaryVersion>4</ps:BinaryVersion>`)
	b.WriteString(`<ps:UIVersion>1</ps:UIVersion>`)
	b.WriteString(`<ps:Cookies></ps:Cookies>`)
	b.WriteString(`<ps:RequestParams>AQAAAAIAAABsYwQAAAAxMDMz</ps:RequestParams>`)
	b.WriteString(`</ps:AuthInfo>`)
	b.WriteString(`<wsse:Security>`)
	b.WriteString(`<wsse:UsernameToken wsu:Id="user">`)
	fmt.Fprintf(&b, `<wsse:Username>%s</wsse:Username>`, escEmail)
	fmt.Fprintf(&b, `<wsse:Password>%s</wsse:Password>`, escPassword)
	b.WriteString(`</wsse:UsernameToken>`)
	if v2 {
		const layout = "2006-01-02T15:04:05Z"
		fmt.Fprintf(&b, `<wsu:Timestamp wsu:Id="Timestamp"><wsu:Created>%s</wsu:Created><wsu:Expires>%s</wsu:Expires></wsu:Timestamp>`,
			now.UTC().Format(layout), now.UTC().Add(5*time.Minute).Format(layout))
	}
	b.WriteString(`</wsse:Security>`)
	b.WriteString(`</s:Header>`)
	b.WriteString(`<s:Body>`)
	fmt.Fprintf(&b, `<ps:RequestMultipleSecurityTokens xmlns:ps="%s" Id="RSTS">`, nsPPCRL)
	for i, svc := range services(policy) {
		fmt.Fprintf(&b, `<wst:RequestSecurityToken Id="RST%d">`, i)
		fmt.Fprintf(&b, `<wst:RequestType>%s</wst:RequestType>`, d.issue)
		fmt.Fprintf(&b, `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>%s</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>`, svc.address)
		if svc.policy != "" {
			pol, err := xmlsafe.Escape(svc.policy)
			if err != nil {
				return nil, fmt.Errorf("passport: policy %w", err)
			}
			fmt.Fprintf(&b, `<wsse:PolicyReference URI="%s"></wsse:PolicyReference>`, pol)
		}
		b.WriteString(`</wst:RequestSecurityToken>`)
	}
	b.WriteString(`</ps:RequestMultipleSecurityTokens>`)
	b.WriteString(`</s:Body>`)
	b.WriteString(`</s:Envelope>`)
	return []byte(b.String()), nil
}
