package msnclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// emoticonObject is the MSNObject WLM sends for an emoticon of creator.
func emoticonObject(creator string, data []byte) string {
	return p2p.NewMSNObject(creator, p2p.ObjectEmoticon, data, "TFR2C.tmp", "cat").String()
}

func TestParseEmoticonHeader(t *testing.T) {
	cat, dog := []byte("cat image"), []byte("dog image")
	objCat, objDog := emoticonObject("w@x.y", cat), emoticonObject("w@x.y", dog)
	t.Run("WLM", func(t *testing.T) {
		got, err := msnclient.ParseEmoticonHeader([]byte(":cat:\t"+objCat+"\t(dog)\t"+objDog+"\t"), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 || got[0].Shortcut != ":cat:" || got[0].SHA1D != p2p.SHA1D(cat) || got[0].Size != int64(len(cat)) ||
			got[0].MSNObject != objCat || got[1].Shortcut != "(dog)" || got[1].SHA1D != p2p.SHA1D(dog) || got[0].Animated {
			t.Fatalf("got %+v", got)
		}
	})
	t.Run("PidginNoTrailingTab", func(t *testing.T) {
		got, err := msnclient.ParseEmoticonHeader([]byte(":cat:\t"+objCat), true)
		if err != nil || len(got) != 1 || !got[0].Animated || got[0].SHA1D != p2p.SHA1D(cat) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("PercentEncoded", func(t *testing.T) {
		enc := strings.NewReplacer("<", "%3C", ">", "%3E", `"`, "%22", " ", "%20", "=", "%3D", "/", "%2F").Replace(objCat)
		got, err := msnclient.ParseEmoticonHeader([]byte(":cat:\t"+enc+"\t"), false)
		if err != nil || len(got) != 1 || got[0].SHA1D != p2p.SHA1D(cat) || got[0].MSNObject != objCat {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("RedefinedKeepsLast", func(t *testing.T) {
		got, err := msnclient.ParseEmoticonHeader([]byte(":x\t"+objCat+"\t:x\t"+objDog+"\t"), false)
		if err != nil || len(got) != 1 || got[0].SHA1D != p2p.SHA1D(dog) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
	t.Run("BadPairSkipped", func(t *testing.T) {
		got, err := msnclient.ParseEmoticonHeader([]byte(":bad:\t<msnobj Type=\"2\"/>\t:cat:\t"+objCat+"\t"), false)
		if !errors.Is(err, msnclient.ErrBadEmoticons) || !errors.Is(err, p2p.ErrBadMSNObject) || !strings.Contains(err.Error(), ":bad:") {
			t.Fatalf("error %v, want one naming the bad definition", err)
		}
		if len(got) != 1 || got[0].Shortcut != ":cat:" {
			t.Fatalf("got %+v, want the good definition kept", got)
		}
	})
	refused := map[string]string{
		"odd fields":      ":cat:\t" + objCat + "\t:dog:\t",
		"only shortcut":   ":cat:",
		"empty":           "",
		"tab only":        "\t",
		"CRLF":            ":cat:\r\n\t" + objCat + "\t",
		"LF in object":    ":cat:\t" + objCat + "\n\t",
		"NUL":             ":c\x00t:\t" + objCat + "\t",
		"invalid UTF-8":   ":c\xfft:\t" + objCat + "\t",
		"oversized":       ":cat:\t" + objCat + strings.Repeat(" ", 20000) + "\t",
		"too many":        strings.Repeat(":cat:\t"+objCat+"\t", msnclient.MaxEmoticonsPerMessage+1),
		"empty shortcut":  " \t" + objCat + "\t",
		"long shortcut":   strings.Repeat("x", 40) + "\t" + objCat + "\t",
		"control":         ":c\x1bt:\t" + objCat + "\t",
		"not msnobj":      ":cat:\t<script>alert(1)</script>\t",
		"picture type":    ":cat:\t" + p2p.NewMSNObject("w@x.y", p2p.ObjectDisplayPicture, cat, "0", "").String() + "\t",
		"bad percent":     ":cat:\t%3Cmsnobj%ZZ\t",
		"no SHA1D":        ":cat:\t<msnobj Creator=\"w@x.y\" Type=\"2\"/>\t",
		"hostile XML":     ":cat:\t<!DOCTYPE x [<!ENTITY a \"aaaa\">]><msnobj SHA1D=\"&a;\"/>\t",
		"whitespace only": "   ",
	}
	for name, body := range refused {
		t.Run("Refused/"+name, func(t *testing.T) {
			got, err := msnclient.ParseEmoticonHeader([]byte(body), false)
			if !errors.Is(err, msnclient.ErrBadEmoticons) {
				t.Fatalf("error %v, want ErrBadEmoticons", err)
			}
			if len(got) != 0 {
				t.Fatalf("got %+v from a bad definition", got)
			}
		})
	}
}

// TestEmoticonsWithScriptedPeer: a WLM-like and a Pidgin-like peer send a
// message with a static and an animated custom emoticon the way those
// clients do (definitions first, then the text); the client reports the
// emoticons with the message and fetches both images over P2P at once,
// from the peer's chunks of its own size.
func TestEmoticonsWithScriptedPeer(t *testing.T) {
	for _, style := range []struct {
		name  string
		style msntest.ScriptedStyle
	}{{"WLM", msntest.StyleWLM}, {"Pidgin", msntest.StylePidgin}} {
		t.Run(style.name, func(t *testing.T) {
			t.Parallel()
			a, w := "alice@example.com", "wlm@example.com"
			ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
			defer cancel()
			peer, alice := scriptedPeerAndClient(ctx, t, a, w, 15, nil)
			peer.SetStyle(style.style)
			cat := msntest.ScriptedEmoticon{Shortcut: ":cat:", Name: "cat", Data: randomPicture(t, 3000)}        // three chunks
			dance := msntest.ScriptedEmoticon{Shortcut: "(dance)", Data: randomPicture(t, 5000), Animated: true} // four or five
			unused := msntest.ScriptedEmoticon{Shortcut: ":nope:", Data: randomPicture(t, 10)}
			text := "look <b>:cat:</b> & (dance)!"
			if err := peer.SendEmoticonMessage(ctx, a, text, cat, dance, unused); err != nil {
				t.Fatal(err)
			}
			msg := chatWait(t, alice, 1, func(e *msnclient.MessageReceived) bool { return e.From == w })
			if msg.Message.Text != text {
				t.Fatalf("text %q", msg.Message.Text)
			}
			if len(msg.Emoticons) != 2 || msg.Emoticons[0].Shortcut != "(dance)" || !msg.Emoticons[0].Animated ||
				msg.Emoticons[1].Shortcut != ":cat:" || msg.Emoticons[1].Animated {
				t.Fatalf("emoticons %+v, want (dance) (animated) and :cat:, longest first, without the unused one", msg.Emoticons)
			}
			want := map[string][]byte{":cat:": cat.Data, "(dance)": dance.Data}
			var wg sync.WaitGroup
			for _, e := range msg.Emoticons {
				wg.Add(1)
				go func() {
					defer wg.Done()
					got, err := alice.FetchEmoticon(ctx, w, e)
					if err != nil || !bytes.Equal(got, want[e.Shortcut]) {
						t.Errorf("%s: fetched %d bytes: %v", e.Shortcut, len(got), err)
					}
				}()
			}
			wg.Wait()
			// The peer counts an image served once our ack of it arrived.
			for deadline := time.Now().Add(chatTimeout); ; time.Sleep(10 * time.Millisecond) {
				req, served := peer.EmoticonRequests()
				if req == 2 && served == 2 {
					break
				}
				if req > 2 || time.Now().After(deadline) {
					t.Fatalf("peer got %d requests and served %d, want 2 and 2", req, served)
				}
			}
			// The definitions were for that message only.
			if err := peer.SendEmoticonMessage(ctx, a, "plain :cat: now"); err != nil {
				t.Fatal(err)
			}
			msg = chatWait(t, alice, 2, func(e *msnclient.MessageReceived) bool { return e.From == w })
			if len(msg.Emoticons) != 0 {
				t.Fatalf("second message has emoticons %+v", msg.Emoticons)
			}
		})
	}
}

// TestEmoticonFetchUnanswered: a peer that never answers the request
// makes the fetch fail when its context ends, and nothing else breaks.
func TestEmoticonFetchUnanswered(t *testing.T) {
	a, w := "alice@example.com", "wlm@example.com"
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	peer, alice := scriptedPeerAndClient(ctx, t, a, w, 15, nil)
	peer.IgnoreEmoticonRequests(true)
	cat := msntest.ScriptedEmoticon{Shortcut: ":cat:", Data: randomPicture(t, 100)}
	if err := peer.SendEmoticonMessage(ctx, a, "hi :cat:", cat); err != nil {
		t.Fatal(err)
	}
	msg := chatWait(t, alice, 1, func(e *msnclient.MessageReceived) bool { return e.From == w })
	if len(msg.Emoticons) != 1 {
		t.Fatalf("emoticons %+v", msg.Emoticons)
	}
	fctx, fcancel := context.WithTimeout(ctx, 2*time.Second)
	defer fcancel()
	if _, err := alice.FetchEmoticon(fctx, w, msg.Emoticons[0]); err == nil {
		t.Fatal("fetch from a peer that never answers succeeded")
	}
	peer.IgnoreEmoticonRequests(false)
	got, err := alice.FetchEmoticon(ctx, w, msg.Emoticons[0])
	if err != nil || !bytes.Equal(got, cat.Data) {
		t.Fatalf("fetch after the peer answers again: %d bytes, %v", len(got), err)
	}
}

// TestEmoticonDefinitionsMalformed: bad definitions from a contact do not
// lose the text that follows.
func TestEmoticonDefinitionsMalformed(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 15, 15, nil)
	for i, body := range []string{":cat:\t<msnobj/>\t", "odd\tfields\tthree", ":c\xfft:\tx\t"} {
		payload := "MIME-Version: 1.0\r\nContent-Type: text/x-mms-emoticon\r\n\r\n" + body
		if err := msnclient.SendRawMessage(ctx, bob.Client, alice.email, []byte(payload)); err != nil {
			t.Fatal(err)
		}
		text := fmt.Sprintf("message %d :cat:", i)
		if err := bob.Conversation(alice.email).SendText(ctx, msnclient.TextMessage{Text: text}); err != nil {
			t.Fatal(err)
		}
		msg := chatWait(t, alice, i+1, func(e *msnclient.MessageReceived) bool { return e.From == bob.email })
		if msg.Message.Text != text || len(msg.Emoticons) != 0 {
			t.Fatalf("got %q with %+v", msg.Message.Text, msg.Emoticons)
		}
	}
}

// BenchmarkParseEmoticonHeader parses a WLM definition message with four
// emoticons (what fits in one switchboard message).
func BenchmarkParseEmoticonHeader(b *testing.B) {
	var body strings.Builder
	for i := range 4 {
		fmt.Fprintf(&body, "(e%d)\t%s\t", i, emoticonObject("wlm@example.com", []byte{byte(i)}))
	}
	data := []byte(body.String())
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if defs, err := msnclient.ParseEmoticonHeader(data, false); err != nil || len(defs) != 4 {
			b.Fatal(len(defs), err)
		}
	}
}

// TestEmoticonFetchAfterSwitchboardClosed: the contact left the
// switchboard of its message before the client asked for the image; the
// request goes on a new switchboard, where the contact serves it.
func TestEmoticonFetchAfterSwitchboardClosed(t *testing.T) {
	a, w := "alice@example.com", "wlm@example.com"
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	peer, alice := scriptedPeerAndClient(ctx, t, a, w, 15, nil)
	cat := msntest.ScriptedEmoticon{Shortcut: ":cat:", Data: randomPicture(t, 2000)}
	if err := peer.SendEmoticonMessage(ctx, a, ":cat:", cat); err != nil {
		t.Fatal(err)
	}
	msg := chatWait(t, alice, 1, func(e *msnclient.MessageReceived) bool { return e.From == w })
	peer.CloseConversation(a)
	chatWait(t, alice, 1, func(e *msnclient.ConversationClosed) bool { return true })
	got, err := alice.FetchEmoticon(ctx, w, msg.Emoticons[0])
	if err != nil || !bytes.Equal(got, cat.Data) {
		t.Fatalf("fetched %d bytes: %v", len(got), err)
	}
}
