package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// bridgev2 v0.32 greets a user who invites the bot with a hardcoded
// "Hello, I'm a %s bridge bot." (matrixinvite.go; the config's
// management_room_texts are not used), which reads "I'm a MSN bridge bot".
// There is no hook for the text, so the connector corrects the sentence in
// the bot's outgoing messages: in the request body of unencrypted ones, and
// before encryption for encrypted ones (Element encrypts new DMs).
var (
	greetingWrong = []byte(" a MSN bridge bot")
	greetingRight = []byte(" an MSN bridge bot")
)

// fixGreeting installs the correction on the bridge bot (Init).
func fixGreeting(br *bridgev2.Bridge) {
	mx, ok := br.Matrix.(*matrix.Connector)
	if !ok || mx.Bot == nil || mx.Bot.Client == nil {
		return
	}
	next := mx.Bot.Client.RequestHook
	mx.Bot.Client.RequestHook = func(req *http.Request) {
		fixGreetingRequest(req)
		if next != nil {
			next(req)
		}
	}
	if mx.Crypto != nil {
		mx.Crypto = &greetingCrypto{Crypto: mx.Crypto}
	}
}

// fixGreetingRequest corrects the greeting in an unencrypted message the
// bot sends.
func fixGreetingRequest(req *http.Request) {
	if req.Method != http.MethodPut || req.Body == nil || !strings.Contains(req.URL.Path, "/send/m.room.message/") {
		return
	}
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
		return
	}
	if bytes.Contains(body, greetingWrong) {
		body = bytes.ReplaceAll(body, greetingWrong, greetingRight)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	req.ContentLength = int64(len(body))
}

// greetingCrypto corrects the greeting before bridgev2 encrypts it.
type greetingCrypto struct {
	matrix.Crypto
}

// Encrypt implements matrix.Crypto.
func (g *greetingCrypto) Encrypt(ctx context.Context, roomID id.RoomID, evtType event.Type, content *event.Content) error {
	if evtType == event.EventMessage && content != nil {
		switch msg := content.Parsed.(type) {
		case event.MessageEventContent:
			fixGreetingContent(&msg)
			content.Parsed = msg
		case *event.MessageEventContent:
			fixGreetingContent(msg)
		}
	}
	return g.Crypto.Encrypt(ctx, roomID, evtType, content)
}

func fixGreetingContent(msg *event.MessageEventContent) {
	msg.Body = strings.ReplaceAll(msg.Body, string(greetingWrong), string(greetingRight))
	msg.FormattedBody = strings.ReplaceAll(msg.FormattedBody, string(greetingWrong), string(greetingRight))
}
