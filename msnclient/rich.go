package msnclient

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf16"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// Datacast ids of the rich content WLM sends as an MSN object.
const (
	DatacastWink      = 2 // Data: a wink's MSNObject (Type 8)
	DatacastVoiceClip = 3 // Data: a voice clip's MSNObject (Type 11)
)

// MaxRichObjectSize bounds a wink or voice clip fetched over P2P (and so
// does Config.MaxPictureSize, when smaller): WLM's winks are up to a few
// hundred KiB, a 15-second voice clip some 30 KiB.
const MaxRichObjectSize = 1 << 20

// DatacastObject is the MSN object a wink or voice clip datacast announces.
type DatacastObject struct {
	MSNObject string // the msnobj element as sent, for FetchDatacastObject
	Type      int    // p2p.ObjectWink or p2p.ObjectVoiceClip
	Size      int64
	Name      string // the Friendly name ("Break Dancer"), "" when none
	obj       *p2p.MSNObject
}

// Object returns the MSN object of a wink or voice clip datacast (its Data
// field), or an error when it has none or it is malformed.
func (d *Datacast) Object() (*DatacastObject, error) {
	text := (&mimeMessage{Body: d.Data}).bodyFields().Get("Data")
	if text == "" {
		return nil, fmt.Errorf("datacast %d: no Data field", d.ID)
	}
	obj, err := p2p.ParseMSNObject(text)
	if err != nil {
		return nil, fmt.Errorf("datacast %d: %w", d.ID, err)
	}
	return &DatacastObject{MSNObject: text, Type: obj.Type, Size: obj.Size, Name: decodeFriendly(obj.Friendly), obj: obj}, nil
}

// FetchDatacastObject fetches the wink or voice clip of a datacast from
// email over P2P (as libpurple and MSNPSharp do: the MSN object EUF-GUID,
// AppID 1) and returns it once its SHA1D matches. It fails for objects
// over MaxRichObjectSize and when the contact does not answer in time.
func (c *Client) FetchDatacastObject(ctx context.Context, email string, o *DatacastObject) ([]byte, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, err := checkEmail(email); err != nil {
		return nil, fmt.Errorf("fetch MSN object: %w", err)
	}
	if o == nil || o.obj == nil {
		return nil, fmt.Errorf("fetch MSN object from %s: no object", email)
	}
	if _, err := c.connected(); err != nil {
		return nil, fmt.Errorf("fetch MSN object from %s: %w", email, err)
	}
	data, err := c.p2pApps().objects.Fetch(ctx, email, o.obj, MaxRichObjectSize)
	if err != nil {
		return nil, err
	}
	return data, nil
}

// handleP2PInk reports an ink message sent over P2P (one-to-one, WLM).
func (c *Client) handleP2PInk(peer string, data []byte, err error) {
	evt := &Ink{From: peer, ConversationEvent: c.p2pConversation(peer)}
	if err != nil {
		// The only transport error: announced over the limit.
		evt.Err = fmt.Errorf("%w: %w", ErrInkTooLarge, err)
	} else {
		evt.ContentType, evt.Data, evt.Err = decodeP2PInk(data)
		if evt.Err != nil {
			evt.Data = nil
		}
	}
	c.emit(evt)
}

// decodeFriendly decodes an MSNObject's Friendly attribute (base64 of
// UTF-16LE and a NUL); "" when it is empty or malformed.
func decodeFriendly(s string) string {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%2 != 0 {
		return ""
	}
	units := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u := uint16(b[i]) | uint16(b[i+1])<<8
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	return strings.TrimSpace(string(utf16.Decode(units)))
}
