package e2e

import (
	"bytes"
	"html"
	"image"
	"image/color"
	"image/gif"
	"regexp"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// wlmEmail is a contact played by the fake server's scripted WLM peer.
const wlmEmail = "wanda@msn.test"

// emoticonImg matches an inline emoticon of a formatted body.
var emoticonImg = regexp.MustCompile(`<img [^>]*src="(mxc://[^"]+)" alt="([^"]*)" title="([^"]*)" height="19">`)

func emoticonAnimated(t *testing.T) []byte {
	t.Helper()
	pal := color.Palette{color.Black, color.White}
	anim := &gif.GIF{}
	for f := range 2 {
		frame := image.NewPaletted(image.Rect(0, 0, 19, 19), pal)
		frame.Pix[f] = 1
		anim.Image = append(anim.Image, frame)
		anim.Delay = append(anim.Delay, 20)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, anim); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// inlineEmoticons returns the inline emoticons of a message, mxc by alt
// text, checking that each has the shortcut as its title too.
func inlineEmoticons(t *testing.T, msg *event.MessageEventContent) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range emoticonImg.FindAllStringSubmatch(msg.FormattedBody, -1) {
		alt, title := html.UnescapeString(m[2]), html.UnescapeString(m[3])
		if alt != title {
			t.Errorf("emoticon alt %q, title %q", alt, title)
		}
		out[alt] = m[1]
	}
	return out
}

// testCustomEmoticon: a WLM contact's message with a custom emoticon and
// an animated one shows both inline, with images that download to the
// exact bytes the contact served; the next message with the same emoticon
// reuses the upload without asking the contact again; a contact who never
// answers gets the message shown as text after the bound, while another
// chat goes on meanwhile and the contact's next message stays behind it.
func (w *world) testCustomEmoticon(t *testing.T) {
	if err := w.srv.AddAccount(wlmEmail, peerPass, "Wanda WLM"); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{wlmEmail, meEmail}, {meEmail, wlmEmail}} {
		if err := w.srv.AddContact(pair[0], pair[1], mutual); err != nil {
			t.Fatal(err)
		}
	}
	peer, err := w.srv.StartScriptedPeer(w.ctx, wlmEmail, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	ghost := w.br.GhostMXID(wlmEmail)
	cat := msntest.ScriptedEmoticon{Shortcut: ":cat:", Name: "cat", Data: picturePNG(t, 19)}
	dance := msntest.ScriptedEmoticon{Shortcut: "(<dance>)", Name: "dance", Data: emoticonAnimated(t), Animated: true}
	send := func(t *testing.T, text string, emoticons ...msntest.ScriptedEmoticon) stack.SeenEvent {
		t.Helper()
		cursor := w.user.Cursor()
		sent := time.Now()
		if err := peer.SendEmoticonMessage(w.ctx, meEmail, text, emoticons...); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(cursor, ghost, "", text)
		if err != nil {
			t.Fatal(err)
		}
		if len(emoticons) > 0 {
			recordFigure(t, "emoticon_message_"+strings.ToLower(strings.TrimPrefix(t.Name(), "TestBridge/CustomEmoticon/")),
				evt.Seen.Sub(sent).Round(time.Millisecond).String())
		}
		return evt
	}
	var room id.RoomID
	var catMXC string

	t.Run("Inline", func(t *testing.T) {
		// The chat's room first, so that the figure is the emoticons'.
		send(t, "hello from WLM")
		text := "look <3 :cat: & (<dance>)"
		evt := send(t, text, cat, dance)
		room = evt.RoomID
		msg := evt.Content.AsMessage()
		if msg.Body != text || msg.Format != event.FormatHTML {
			t.Fatalf("body %q format %q", msg.Body, msg.Format)
		}
		if !strings.HasPrefix(msg.FormattedBody, "look &lt;3 <img") || !strings.Contains(msg.FormattedBody, "> &amp; <img") {
			t.Fatalf("text around the emoticons not escaped: %s", msg.FormattedBody)
		}
		got := inlineEmoticons(t, msg)
		for _, e := range []msntest.ScriptedEmoticon{cat, dance} {
			mxc, ok := got[e.Shortcut]
			if !ok {
				t.Fatalf("no inline image for %q in %s", e.Shortcut, msg.FormattedBody)
			}
			uri, err := id.ParseContentURI(mxc)
			if err != nil {
				t.Fatal(err)
			}
			data, err := w.user.DownloadBytes(w.ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, e.Data) {
				t.Fatalf("%s downloads to %d bytes differing from the %d served", e.Shortcut, len(data), len(e.Data))
			}
		}
		catMXC = got[":cat:"]
	})
	if catMXC == "" {
		t.FailNow()
	}

	t.Run("Reused", func(t *testing.T) {
		before, _ := peer.EmoticonRequests()
		cursor := w.user.Cursor()
		msg := send(t, "again :cat:", cat).Content.AsMessage()
		// Sent right behind it: stays behind it.
		if err := peer.SendEmoticonMessage(w.ctx, meEmail, "right after"); err != nil {
			t.Fatal(err)
		}
		if got := inlineEmoticons(t, msg)[":cat:"]; got != catMXC {
			t.Fatalf("second use of :cat: has %q, want the first upload %q", got, catMXC)
		}
		if after, _ := peer.EmoticonRequests(); after != before {
			t.Fatalf("the contact was asked for :cat: again (%d requests, then %d)", before, after)
		}
		w.checkOrder(t, cursor, ghost, "again :cat:", "right after")
	})

	t.Run("Unanswered", func(t *testing.T) {
		peer.IgnoreEmoticonRequests(true)
		defer peer.IgnoreEmoticonRequests(false)
		owl := msntest.ScriptedEmoticon{Shortcut: ":owl:", Data: []byte("an image never fetched")}
		cursor := w.user.Cursor()
		sent := time.Now()
		if err := peer.SendEmoticonMessage(w.ctx, meEmail, "hoot :owl:", owl); err != nil {
			t.Fatal(err)
		}
		if err := peer.SendEmoticonMessage(w.ctx, meEmail, "after the owl"); err != nil {
			t.Fatal(err)
		}
		// Another chat is not held meanwhile.
		if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: "bob during the owl"}, meEmail); err != nil {
			t.Fatal(err)
		}
		bobEvt, err := w.waitGhostText(cursor, w.br.GhostMXID(bobEmail), w.bobRoom, "bob during the owl")
		if err != nil {
			t.Fatal(err)
		}
		owlEvt, err := w.waitGhostText(cursor, ghost, room, "hoot :owl:")
		if err != nil {
			t.Fatal(err)
		}
		if msg := owlEvt.Content.AsMessage(); msg.Body != "hoot :owl:" || strings.Contains(msg.FormattedBody, "<img") {
			t.Fatalf("unanswered emoticon: %q / %q, want the text", msg.Body, msg.FormattedBody)
		}
		if held := owlEvt.Seen.Sub(sent); held < 4*time.Second {
			t.Errorf("the message came after %v, before the 5 s bound: it did not wait for the emoticon", held)
		}
		if bobEvt.Index > owlEvt.Index {
			t.Errorf("bob's message in another chat waited for the held one")
		}
		w.checkOrder(t, cursor, ghost, "hoot :owl:", "after the owl")
	})
}

// checkOrder checks that ghost's messages first and second (body text)
// arrived after cursor in that order.
func (w *world) checkOrder(t *testing.T, cursor int, ghost id.UserID, first, second string) {
	t.Helper()
	var a, b stack.SeenEvent
	var err error
	if a, err = w.waitGhostText(cursor, ghost, "", first); err != nil {
		t.Fatal(err)
	}
	if b, err = w.waitGhostText(cursor, ghost, "", second); err != nil {
		t.Fatal(err)
	}
	if a.Index > b.Index {
		t.Fatalf("%q arrived after %q", first, second)
	}
}
