package abch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/rs/zerolog"
)

// maxBody bounds every response body.
const maxBody = 4 << 20

// Config configures a Client.
type Config struct {
	HTTPClient        *http.Client // required; use passport.NewHTTPClient for verified TLS with a custom CA
	ABServiceURL      string       // …/abservice/abservice.asmx
	SharingServiceURL string       // …/abservice/SharingService.asmx
	// Ticket returns the current ticket: the contacts.msn.com ticket from
	// RST (MSNP15+), or the Tweener ticket (MSNP13-14).
	Ticket func() string
	// MSPAuthCookie also sends the ticket as an MSPAuth cookie, as MSNP13-14
	// (Tweener) clients did. The TicketToken header is always sent.
	MSPAuthCookie bool
}

// Client calls the address book and sharing services for one account.
// It is safe for concurrent use.
type Client struct {
	cfg Config
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.HTTPClient == nil {
		return nil, errors.New("abch: no HTTP client")
	}
	if cfg.Ticket == nil {
		return nil, errors.New("abch: no ticket getter")
	}
	for name, u := range map[string]string{"address book": cfg.ABServiceURL, "sharing service": cfg.SharingServiceURL} {
		if u == "" {
			return nil, fmt.Errorf("abch: no %s URL", name)
		}
		parsed, err := url.Parse(u)
		if err != nil {
			return nil, fmt.Errorf("abch: %s URL: %w", name, err)
		}
		if parsed.Scheme != "https" && parsed.Scheme != "http" {
			return nil, fmt.Errorf("abch: %s URL must be http(s), got %q", name, u)
		}
	}
	return &Client{cfg: cfg}, nil
}

const (
	nsAB          = "http://www.msn.com/webservices/AddressBook"
	applicationID = "CFE80F9D-180F-4399-82AB-413F33A1FA11"
	zeroABID      = "00000000-0000-0000-0000-000000000000"
	fullSyncSince = "0001-01-01T00:00:00.0000000-08:00"
)

// soapFault is a SOAP 1.1 fault as the services send it.
type soapFault struct {
	Code      string `xml:"faultcode"`
	Reason    string `xml:"faultstring"`
	ErrorCode string `xml:"detail>errorcode"`
}

type faultEnvelope struct {
	BodyFault *soapFault `xml:"Body>Fault"`
	Fault     *soapFault `xml:"Fault"`
}

// call posts one SOAP request. body is the action element's inner XML
// (already escaped). If out is not nil, the response is decoded into it.
func (c *Client) call(ctx context.Context, serviceURL, action, scenario, body string, out any) error {
	ticket := c.cfg.Ticket()
	if ticket == "" {
		return ErrNoTicket
	}
	escTicket, err := xmlsafe.Escape(ticket)
	if err != nil {
		return fmt.Errorf("abch: %s: ticket: %w", action, err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/">`)
	b.WriteString(`<soap:Header>`)
	fmt.Fprintf(&b, `<ABApplicationHeader xmlns="%s"><ApplicationId>%s</ApplicationId><IsMigration>false</IsMigration><PartnerScenario>%s</PartnerScenario></ABApplicationHeader>`,
		nsAB, applicationID, scenario)
	fmt.Fprintf(&b, `<ABAuthHeader xmlns="%s"><ManagedGroupRequest>false</ManagedGroupRequest><TicketToken>%s</TicketToken></ABAuthHeader>`,
		nsAB, escTicket)
	b.WriteString(`</soap:Header><soap:Body>`)
	fmt.Fprintf(&b, `<%s xmlns="%s">%s</%s>`, action, nsAB, body, action)
	b.WriteString(`</soap:Body></soap:Envelope>`)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, serviceURL, strings.NewReader(b.String()))
	if err != nil {
		return fmt.Errorf("abch: %s: build request: %w", action, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+nsAB+"/"+action+`"`)
	if c.cfg.MSPAuthCookie {
		addTweenerCookies(req, ticket)
	}
	log := zerolog.Ctx(ctx)
	log.Debug().Str("action", action).Str("url", serviceURL).Msg("Calling ABCH")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("abch: %s: %w", action, err)
	}
	defer resp.Body.Close()
	data, err := xmlsafe.ReadAll(resp.Body, maxBody)
	if err != nil {
		return fmt.Errorf("abch: %s (HTTP %d): %w", action, resp.StatusCode, err)
	}
	err = decodeResponse(action, resp.StatusCode, data, out)
	var fault *Fault
	if errors.As(err, &fault) {
		log.Debug().Str("action", action).Str("fault", fault.Error()).Msg("ABCH fault")
	}
	return err
}

// decodeResponse turns a response into a *Fault, a *StatusError, a parse
// error, or (if out is not nil) the decoded body.
func decodeResponse(action string, status int, data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if status != http.StatusOK || out != nil {
			return &StatusError{Action: action, StatusCode: status}
		}
		return nil
	}
	// A response without the word "Fault" anywhere holds no fault element:
	// the fault pass (a full parse of an address book that may be large)
	// is only needed when it could find one.
	var fe faultEnvelope
	if status != http.StatusOK || bytes.Contains(data, []byte("Fault")) {
		if err := xmlsafe.Unmarshal(data, &fe); err != nil {
			if status != http.StatusOK {
				return &StatusError{Action: action, StatusCode: status}
			}
			return fmt.Errorf("abch: %s: parse response: %w", action, err)
		}
	}
	if f := firstFault(fe.BodyFault, fe.Fault); f != nil {
		return &Fault{
			Action:     action,
			HTTPStatus: status,
			Code:       strings.TrimSpace(f.Code),
			Reason:     strings.TrimSpace(f.Reason),
			ErrorCode:  strings.TrimSpace(f.ErrorCode),
		}
	}
	if status != http.StatusOK {
		return &StatusError{Action: action, StatusCode: status}
	}
	if out == nil {
		return nil
	}
	if err := xmlsafe.Unmarshal(data, out); err != nil {
		return fmt.Errorf("abch: %s: parse response: %w", action, err)
	}
	return nil
}

func firstFault(fs ...*soapFault) *soapFault {
	for _, f := range fs {
		if f != nil {
			return f
		}
	}
	return nil
}

// addTweenerCookies sends a Passport ticket "t=…&p=…" (or a bare token) as
// the MSPAuth/MSPProf cookies.
func addTweenerCookies(req *http.Request, ticket string) {
	auth, prof := ticket, ""
	if strings.HasPrefix(ticket, "t=") {
		rest := ticket[2:]
		auth, prof, _ = strings.Cut(rest, "&p=")
	}
	if auth != "" && validCookieValue(auth) {
		req.AddCookie(&http.Cookie{Name: "MSPAuth", Value: auth})
	}
	if prof != "" && validCookieValue(prof) {
		req.AddCookie(&http.Cookie{Name: "MSPProf", Value: prof})
	}
}

// validCookieValue accepts the RFC 6265 cookie-octet set, so no value
// can be mangled or inject another header.
func validCookieValue(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
