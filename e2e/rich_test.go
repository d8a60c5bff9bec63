package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/png"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// testRich: winks, handwriting and voice clips from a contact using
// Windows Live Messenger (the scripted peer of msntest, which sends them
// the way WLM does: the wink datacast in three chunks, one-to-one ink over
// P2P, group-style ink as chunked messages, objects served over P2P on
// request) show in Matrix as a user expects.
func (w *world) testRich(t *testing.T) {
	// Bob signs in with WLM for these scenarios; the usual bob is back
	// afterwards.
	_ = w.bob.Close()
	defer w.bobBack(t)
	ctx, cancel := context.WithTimeout(w.ctx, fileTimeout)
	defer cancel()
	wlm, err := w.srv.StartScriptedPeer(ctx, bobEmail, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer wlm.Close()
	conv, err := wlm.OpenConversation(ctx, meEmail)
	if err != nil {
		t.Fatal(err)
	}
	defer conv.Close()

	t.Run("Wink", func(t *testing.T) {
		thumb := richPNG(t)
		cab := msntest.WinkCAB([]msntest.CABFile{
			{Name: "content.xml", Data: []byte(`<package type="wink"><item type="animation" file="dance.swf"/><item type="thumbnail" file="dance.png"/></package>`)},
			{Name: "dance.swf", Data: randomBytes(t, 60000)},
			{Name: "dance.png", Data: thumb},
		})
		cursor := w.user.Cursor()
		conv.SendWink(cab, "Break Dancer")
		w.waitGhostEmote(t, cursor, "sent a wink “Break Dancer”")
		w.waitAttachment(t, cursor, event.MsgImage, "Break Dancer.png", thumb)
		w.waitAttachment(t, cursor, event.MsgFile, "Break Dancer.cab", cab)
	})
	t.Run("WinkUnavailable", func(t *testing.T) {
		cursor := w.user.Cursor()
		conv.SendWinkUnavailable(msntest.WinkCAB([]msntest.CABFile{{Name: "a.swf", Data: []byte("FWS")}}), "Gone")
		w.waitGhostEmote(t, cursor, "sent a wink, which could not be received: the sender's client refused to send it")
	})
	t.Run("Ink", func(t *testing.T) {
		drawing := richGIF(t)
		// One-to-one, as WLM sends it: P2P on session 64.
		cursor := w.user.Cursor()
		if err := conv.SendInkP2P(ctx, meEmail, msnclient.InkGIF, drawing); err != nil {
			t.Fatal(err)
		}
		msg := w.waitAttachment(t, cursor, event.MsgImage, "Handwritten message.gif", drawing)
		if msg.Info.Width != 120 || msg.Info.Height != 40 || msg.Info.MimeType != "image/gif" {
			t.Errorf("image info %+v", msg.Info)
		}
		// As a switchboard message (group conversations), chunked.
		big := richGIFSized(t, 300, 200)
		cursor = w.user.Cursor()
		conv.SendInkMSG(msnclient.InkGIF, big)
		w.waitAttachment(t, cursor, event.MsgImage, "Handwritten message.gif", big)
		// ISF strokes: nothing on Matrix draws them.
		cursor = w.user.Cursor()
		conv.SendInkMSG(msnclient.InkISF, randomBytes(t, 300))
		w.waitGhostEmote(t, cursor, "sent a handwritten message, which Matrix cannot show")
		// Broken base64: said, not dropped.
		cursor = w.user.Cursor()
		conv.SendRawMSG([]byte("MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:%%%"))
		w.waitGhostEmote(t, cursor, "sent a handwritten message that could not be read")
	})
	t.Run("VoiceClip", func(t *testing.T) {
		wav := msntest.VoiceClipWAV(4000)
		cursor := w.user.Cursor()
		conv.SendVoiceClip(wav)
		msg := w.waitAttachment(t, cursor, event.MsgAudio, "Voice clip.wav", wav)
		if msg.Info.Duration != 4000 || msg.Info.MimeType != "audio/wav" {
			t.Errorf("audio info %+v", msg.Info)
		}
	})
}

// bobBack signs the usual bob in again, for the scenarios after this one:
// closed when the whole run ends, not with the subtest.
func (w *world) bobBack(t *testing.T) {
	bob := newPeer(bobEmail, "Bob Builder")
	bob.Client = msnclient.NewClient(msnConfig(w.srv, bobEmail, peerPass), bob.handle)
	if err := bob.Connect(w.ctx); err != nil {
		t.Fatalf("bob could not sign in again: %v", err)
	}
	context.AfterFunc(w.ctx, func() { _ = bob.Close() })
	w.bob = bob
}

// waitGhostEmote waits for an emote from bob's ghost in bob's room with
// exactly this text.
func (w *world) waitGhostEmote(t *testing.T, cursor int, text string) stack.SeenEvent {
	t.Helper()
	ghost := w.br.GhostMXID(bobEmail)
	evt, err := w.user.WaitEventAfter(w.ctx, cursor, fileTimeout, func(evt *event.Event) bool {
		msg := evt.Content.AsMessage()
		return evt.RoomID == w.bobRoom && evt.Sender == ghost && evt.Type == event.EventMessage && msg != nil &&
			msg.MsgType == event.MsgEmote && msg.Body == text
	})
	if err != nil {
		t.Fatalf("emote %q: %v", text, err)
	}
	return evt
}

// waitAttachment waits for an attachment of this type and name from bob's
// ghost in bob's room and checks that its content is data (SHA-256).
func (w *world) waitAttachment(t *testing.T, cursor int, msgType event.MessageType, name string, data []byte) *event.MessageEventContent {
	t.Helper()
	ghost := w.br.GhostMXID(bobEmail)
	evt, err := w.user.WaitEventAfter(w.ctx, cursor, fileTimeout, func(evt *event.Event) bool {
		msg := evt.Content.AsMessage()
		return evt.RoomID == w.bobRoom && evt.Sender == ghost && evt.Type == event.EventMessage && msg != nil &&
			msg.MsgType == msgType && msg.FileName == name
	})
	if err != nil {
		t.Fatalf("%s %q: %v", msgType, name, err)
	}
	msg := evt.Content.AsMessage()
	if msg.Info == nil || msg.Info.Size != len(data) {
		t.Fatalf("%s %q: info %+v, want %d bytes", msgType, name, msg.Info, len(data))
	}
	uri, err := msg.URL.Parse()
	if err != nil {
		t.Fatal(err)
	}
	got, err := w.user.DownloadBytes(w.ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("%s %q: downloaded %d bytes differing from the %d sent", msgType, name, len(got), len(data))
	}
	return msg
}

// richGIF is a drawing from WLM's ink pad: a 120x40 GIF.
func richGIF(t *testing.T) []byte { return richGIFSized(t, 120, 40) }

func richGIFSized(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
	for x := 0; x < w; x++ {
		img.Set(x, (x*7)%h, color.Black) // a scribble, so sizes differ
		img.SetColorIndex(x, (x*x)%h, uint8(x))
	}
	var b bytes.Buffer
	if err := gif.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// richPNG is a wink's thumbnail.
func richPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 50, 50))
	img.Set(3, 4, color.RGBA{R: 200, A: 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
