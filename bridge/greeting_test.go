package bridge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"
	"maunium.net/go/mautrix/id"
)

// bridgev2's greeting, as matrixinvite.go renders it.
const bridgev2Greeting = "Hello, I'm a MSN bridge bot.\n\nUse `help` for help or `login` to log in.\n\nThis room has been marked as your management room."

func TestGreetingRequestSaysAnMSN(t *testing.T) {
	content := format.RenderMarkdown(bridgev2Greeting, true, false)
	body, _ := (&event.Content{Parsed: content}).MarshalJSON()
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1/_matrix/client/v3/rooms/%21r:x/send/m.room.message/txn", bytes.NewReader(body))
	fixGreetingRequest(req)
	got, _ := io.ReadAll(req.Body)
	if bytes.Contains(got, []byte(" a MSN")) || !bytes.Contains(got, []byte("I'm an MSN bridge bot")) {
		t.Errorf("greeting sent as %s", got)
	}
	if req.ContentLength != int64(len(got)) {
		t.Errorf("content length %d for %d bytes", req.ContentLength, len(got))
	}
	again, _ := req.GetBody()
	if b, _ := io.ReadAll(again); !bytes.Equal(b, got) {
		t.Error("GetBody returns another body")
	}

	// Other requests pass untouched.
	other, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1/_matrix/client/v3/rooms/%21r:x/state/m.room.topic/", strings.NewReader(`{"topic":"I'm a MSN bridge bot"}`))
	fixGreetingRequest(other)
	if b, _ := io.ReadAll(other.Body); !bytes.Contains(b, []byte(" a MSN")) {
		t.Errorf("a state event was changed: %s", b)
	}
}

// recordingCrypto stands in for bridgev2's crypto helper.
type recordingCrypto struct {
	matrix.Crypto
	got *event.Content
}

func (r *recordingCrypto) Encrypt(_ context.Context, _ id.RoomID, _ event.Type, content *event.Content) error {
	r.got = content
	return nil
}

func TestEncryptedGreetingSaysAnMSN(t *testing.T) {
	rec := &recordingCrypto{}
	g := &greetingCrypto{Crypto: rec}
	content := &event.Content{Parsed: format.RenderMarkdown(bridgev2Greeting, true, false)}
	if err := g.Encrypt(context.Background(), "!r:x", event.EventMessage, content); err != nil {
		t.Fatal(err)
	}
	msg := rec.got.Parsed.(event.MessageEventContent)
	if !strings.Contains(msg.Body, "I'm an MSN bridge bot") || strings.Contains(msg.FormattedBody, " a MSN") {
		t.Errorf("encrypted greeting %q / %q", msg.Body, msg.FormattedBody)
	}
}
