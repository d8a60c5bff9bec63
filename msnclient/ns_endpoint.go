package msnclient

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// maxEndpointName bounds the endpoint name (in characters); WLM's place
// names are short.
const maxEndpointName = 64

// sendEndpointData tells the server our endpoint's name and state (MSNP16+
// UUX PrivateEndpointData), so that the account's other clients list this
// sign-in by name among their places, where it can be signed out.
// Escargot reads EpName, Idle, ClientType and State as direct children of
// the payload's root element and disconnects on an unknown State, so the
// state is always one of our status codes.
func (c *Client) sendEndpointData(ctx context.Context, s *session, status Status) error {
	if !s.d.machineGUID {
		return nil
	}
	payload := buildEndpointData(c.cfg.EndpointName, status)
	if _, err := s.conn.request(ctx, msnp.NewPayload("UUX", payload)); err != nil {
		return fmt.Errorf("send endpoint data: %w", err)
	}
	return nil
}

// buildEndpointData builds the PrivateEndpointData payload.
func buildEndpointData(name string, status Status) []byte {
	name = msnp.CleanText(name)
	if utf8.RuneCountInString(name) > maxEndpointName {
		name = string([]rune(name)[:maxEndpointName])
	}
	idle := "false"
	if status == StatusIdle {
		idle = "true"
	}
	var b bytes.Buffer
	b.WriteString("<PrivateEndpointData><EpName>")
	b.WriteString(xmlsafe.EscapeLossy(name))
	b.WriteString("</EpName><Idle>")
	b.WriteString(idle)
	// ClientType 1 is a computer (Windows Live Messenger's own value).
	b.WriteString("</Idle><ClientType>1</ClientType><State>")
	b.WriteString(string(status))
	b.WriteString("</State></PrivateEndpointData>")
	return b.Bytes()
}
