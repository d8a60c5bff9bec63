package rsi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

// Namespace of the RSI service and its actions.
const nsRSI = "http://www.hotmail.msn.com/ws/2004/09/oim/rsi"

// maxBody bounds every response body: a GetMetadata of a full mailbox is the
// largest.
const maxBody = 4 << 20

// maxDeleteBatch bounds the ids of one DeleteMessages request.
const maxDeleteBatch = 100

// ErrNoTicket means the ticket getter returned an empty ticket.
var ErrNoTicket = errors.New("rsi: no ticket (log in first)")

// Config configures a Client.
type Config struct {
	HTTPClient *http.Client // required
	URL        string       // …/rsi/rsi.asmx
	// Ticket returns the current Passport ticket ("t=…&p=…" or a bare
	// token): the messenger.msn.com ticket (MSNP15+) or the Tweener ticket.
	Ticket func() string
}

// Client calls the RSI service for one account. It is safe for concurrent
// use.
type Client struct {
	cfg Config
}

// New checks cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if cfg.HTTPClient == nil {
		return nil, errors.New("rsi: no HTTP client")
	}
	if cfg.Ticket == nil {
		return nil, errors.New("rsi: no ticket getter")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("rsi: URL must be http(s), got %q", cfg.URL)
	}
	return &Client{cfg: cfg}, nil
}

// Fault is a SOAP fault from the service (Escargot answers HTTP 500).
type Fault struct {
	Action     string
	HTTPStatus int
	Code       string
	Reason     string
}

func (f *Fault) Error() string {
	return fmt.Sprintf("rsi: %s fault %s: %s", f.Action, f.Code, f.Reason)
}

// StatusError is an HTTP error without a SOAP fault.
type StatusError struct {
	Action     string
	StatusCode int
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rsi: %s: HTTP %d without SOAP fault", e.Action, e.StatusCode)
}

// GetMetadata lists every waiting offline message, oldest first.
func (c *Client) GetMetadata(ctx context.Context) ([]Metadata, error) {
	var resp struct {
		Result struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"Body>GetMetadataResponse"`
	}
	if err := c.call(ctx, "GetMetadata", "", &resp); err != nil {
		return nil, err
	}
	inner := bytes.TrimSpace(resp.Result.Inner)
	if len(inner) == 0 {
		return nil, nil
	}
	if !bytes.HasPrefix(inner, []byte("<MD")) {
		// Some servers XML-escape the document inside the response.
		var text struct {
			Text string `xml:",chardata"`
		}
		if err := xmlsafe.Unmarshal(append(append([]byte("<x>"), inner...), "</x>"...), &text); err != nil {
			return nil, fmt.Errorf("rsi: GetMetadata: %w", err)
		}
		inner = []byte(strings.TrimSpace(text.Text))
	}
	md, err := ParseMetadata(inner)
	if err != nil {
		return nil, fmt.Errorf("rsi: GetMetadata: %w", err)
	}
	return md, nil
}

// GetMessage fetches and decodes one offline message without marking it
// read. A message that cannot be decoded gives an error wrapping
// ErrBadMessage.
func (c *Client) GetMessage(ctx context.Context, id string) (*Message, error) {
	if !ValidID(id) {
		return nil, fmt.Errorf("rsi: GetMessage: invalid message id %q", id)
	}
	var resp struct {
		Result *string `xml:"Body>GetMessageResponse>GetMessageResult"`
	}
	body := "<messageId>" + id + "</messageId><alsoMarkAsRead>false</alsoMarkAsRead>"
	if err := c.call(ctx, "GetMessage", body, &resp); err != nil {
		return nil, err
	}
	if resp.Result == nil {
		return nil, fmt.Errorf("rsi: GetMessage %s: %w: no GetMessageResult", id, ErrBadMessage)
	}
	msg, err := ParseMessage([]byte(*resp.Result))
	if err != nil {
		return nil, fmt.Errorf("rsi: GetMessage %s: %w", id, err)
	}
	return msg, nil
}

// DeleteMessages deletes offline messages on the server. Escargot deletes
// none of them if one id is unknown.
func (c *Client) DeleteMessages(ctx context.Context, ids []string) error {
	for len(ids) > 0 {
		batch := ids[:min(len(ids), maxDeleteBatch)]
		ids = ids[len(batch):]
		var b strings.Builder
		b.WriteString("<messageIds>")
		for _, id := range batch {
			if !ValidID(id) {
				return fmt.Errorf("rsi: DeleteMessages: invalid message id %q", id)
			}
			b.WriteString("<messageId>" + id + "</messageId>")
		}
		b.WriteString("</messageIds>")
		if err := c.call(ctx, "DeleteMessages", b.String(), nil); err != nil {
			return err
		}
	}
	return nil
}

// passportCookie splits a ticket "t=AAA&p=BBB" into its t and p values (a
// bare token is all t).
func passportCookie(ticket string) (t, p string) {
	rest, ok := strings.CutPrefix(ticket, "t=")
	if !ok {
		return ticket, ""
	}
	t, p, _ = strings.Cut(rest, "&p=")
	return t, p
}

// call posts one SOAP request; body is the action's inner XML (already
// escaped).
func (c *Client) call(ctx context.Context, action, body string, out any) error {
	ticket := c.cfg.Ticket()
	if ticket == "" {
		return ErrNoTicket
	}
	t, p := passportCookie(ticket)
	escT, err := xmlsafe.Escape(t)
	if err != nil {
		return fmt.Errorf("rsi: %s: ticket: %w", action, err)
	}
	escP, err := xmlsafe.Escape(p)
	if err != nil {
		return fmt.Errorf("rsi: %s: ticket: %w", action, err)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>`)
	b.WriteString(`<soap:Envelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">`)
	fmt.Fprintf(&b, `<soap:Header><PassportCookie xmlns="%s"><t>%s</t><p>%s</p></PassportCookie></soap:Header>`, nsRSI, escT, escP)
	if body == "" {
		fmt.Fprintf(&b, `<soap:Body><%s xmlns="%s" /></soap:Body></soap:Envelope>`, action, nsRSI)
	} else {
		fmt.Fprintf(&b, `<soap:Body><%s xmlns="%s">%s</%s></soap:Body></soap:Envelope>`, action, nsRSI, body, action)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, strings.NewReader(b.String()))
	if err != nil {
		return fmt.Errorf("rsi: %s: build request: %w", action, err)
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"`+nsRSI+"/"+action+`"`)
	log := zerolog.Ctx(ctx)
	log.Debug().Str("action", action).Str("url", c.cfg.URL).Msg("Calling RSI")
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("rsi: %s: %w", action, err)
	}
	defer resp.Body.Close()
	data, err := xmlsafe.ReadAll(resp.Body, maxBody)
	if err != nil {
		return fmt.Errorf("rsi: %s (HTTP %d): %w", action, resp.StatusCode, err)
	}
	return decodeResponse(action, resp.StatusCode, data, out)
}

type soapFault struct {
	Code   string `xml:"faultcode"`
	Reason string `xml:"faultstring"`
}

// decodeResponse turns a response into a *Fault, a *StatusError, a parse
// error or the decoded body.
func decodeResponse(action string, status int, data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		if status != http.StatusOK || out != nil {
			return &StatusError{Action: action, StatusCode: status}
		}
		return nil
	}
	var fe struct {
		Fault *soapFault `xml:"Body>Fault"`
	}
	if err := xmlsafe.Unmarshal(data, &fe); err != nil {
		if status != http.StatusOK {
			return &StatusError{Action: action, StatusCode: status}
		}
		return fmt.Errorf("rsi: %s: parse response: %w", action, err)
	}
	if fe.Fault != nil {
		return &Fault{Action: action, HTTPStatus: status, Code: strings.TrimSpace(fe.Fault.Code), Reason: strings.TrimSpace(fe.Fault.Reason)}
	}
	if status != http.StatusOK {
		return &StatusError{Action: action, StatusCode: status}
	}
	if out == nil {
		return nil
	}
	if err := xmlsafe.Unmarshal(data, out); err != nil {
		return fmt.Errorf("rsi: %s: parse response: %w", action, err)
	}
	return nil
}
