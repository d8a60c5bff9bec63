package msnclient_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// richPeer starts a scripted WLM peer w and a client a (MSNP15), and opens
// a conversation from the peer to the client.
func richPeer(ctx context.Context, t *testing.T) (*msntest.RichConversation, *chatPeer) {
	t.Helper()
	a, w := "alice@example.com", "wlm@example.com"
	peer, alice := scriptedPeerAndClient(ctx, t, a, w, 15, nil)
	conv, err := peer.OpenConversation(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(conv.Close)
	return conv, alice
}

// TestWinkFromScriptedPeer: a wink comes as a datacast in three chunks (its
// MSNObject carries WLM's long signature stamp); its object is fetched from
// the sender over P2P and is the CAB the peer sent, with its name.
func TestWinkFromScriptedPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	conv, alice := richPeer(ctx, t)
	cab := msntest.WinkCAB([]msntest.CABFile{{Name: "content.xml", Data: []byte("<package/>")}, {Name: "wink.swf", Data: randomPicture(t, 70000)}})
	conv.SendWink(cab, "Break Dancer")
	dc := chatWait(t, alice, 1, func(d *msnclient.Datacast) bool { return true })
	if dc.ID != msnclient.DatacastWink || dc.From != "wlm@example.com" {
		t.Fatalf("datacast %d from %s", dc.ID, dc.From)
	}
	obj, err := dc.Object()
	if err != nil {
		t.Fatal(err)
	}
	if obj.Type != p2p.ObjectWink || obj.Name != "Break Dancer" || obj.Size != int64(len(cab)) {
		t.Fatalf("object %+v", obj)
	}
	got, err := alice.FetchDatacastObject(ctx, dc.From, obj)
	if err != nil || !bytes.Equal(got, cab) {
		t.Fatalf("fetched %d bytes (want %d): %v", len(got), len(cab), err)
	}
}

// TestVoiceClipFromScriptedPeer: a voice clip datacast (ID 3) names its
// object, which is fetched whole.
func TestVoiceClipFromScriptedPeer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	conv, alice := richPeer(ctx, t)
	wav := msntest.VoiceClipWAV(3000)
	conv.SendVoiceClip(wav)
	dc := chatWait(t, alice, 1, func(d *msnclient.Datacast) bool { return true })
	obj, err := dc.Object()
	if err != nil || dc.ID != msnclient.DatacastVoiceClip || obj.Type != p2p.ObjectVoiceClip {
		t.Fatalf("datacast %d, object %+v: %v", dc.ID, obj, err)
	}
	got, err := alice.FetchDatacastObject(ctx, dc.From, obj)
	if err != nil || !bytes.Equal(got, wav) {
		t.Fatalf("fetched %d bytes: %v", len(got), err)
	}
}

// TestDatacastObjectMissing: a datacast without a usable object says so.
func TestDatacastObjectMissing(t *testing.T) {
	for _, body := range []string{"ID: 2\r\n\r\n", "ID: 2\r\nData: <msnobj Creator=\"x\"/>\r\n\r\n", "ID: 3\r\nData: garbage\r\n\r\n"} {
		if _, err := (&msnclient.Datacast{ID: 2, Data: []byte(body)}).Object(); err == nil {
			t.Errorf("%q: no error", body)
		}
	}
}

// TestInkFromScriptedPeer: handwriting arrives as WLM sends it, over P2P
// on session 64 in one-to-one conversations and as a (chunked) MSG
// otherwise, as a GIF or as ISF; each becomes an Ink event with the
// decoded drawing.
func TestInkFromScriptedPeer(t *testing.T) {
	gif := inkGIF(t)
	isf := randomPicture(t, 900)
	big := randomPicture(t, 5000) // several MSG chunks once in base64
	for _, tc := range []struct {
		name, ct string
		data     []byte
		p2p      bool
	}{
		{"P2PGIF", msnclient.InkGIF, gif, true},
		{"P2PISF", msnclient.InkISF, isf, true},
		{"MSGGIF", msnclient.InkGIF, gif, false},
		{"MSGISFChunked", msnclient.InkISF, big, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
			defer cancel()
			conv, alice := richPeer(ctx, t)
			if tc.p2p {
				if err := conv.SendInkP2P(ctx, "alice@example.com", tc.ct, tc.data); err != nil {
					t.Fatal(err)
				}
			} else {
				conv.SendInkMSG(tc.ct, tc.data)
			}
			ink := chatWait(t, alice, 1, func(i *msnclient.Ink) bool { return true })
			if ink.Err != nil || ink.ContentType != tc.ct || !bytes.Equal(ink.Data, tc.data) || ink.From != "wlm@example.com" {
				t.Fatalf("ink %q from %s, %d bytes: %v", ink.ContentType, ink.From, len(ink.Data), ink.Err)
			}
			if len(ink.Participants) != 1 || ink.Participants[0] != "wlm@example.com" {
				t.Fatalf("participants %v", ink.Participants)
			}
		})
	}
}

// TestInkBadInput: malformed ink is reported as an Ink with Err, never
// dropped silently, and the conversation goes on.
func TestInkBadInput(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	conv, alice := richPeer(ctx, t)
	conv.SendRawMSG([]byte("MIME-Version: 1.0\r\nContent-Type: image/gif\r\n\r\nbase64:!!!notbase64"))
	ink := chatWait(t, alice, 1, func(i *msnclient.Ink) bool { return true })
	if !errors.Is(ink.Err, msnclient.ErrBadInk) || ink.Data != nil {
		t.Fatalf("bad base64: %v, %d bytes", ink.Err, len(ink.Data))
	}
	// Over the limit on P2P: announced too large, dropped and reported.
	huge := make([]byte, 2*(msnclient.MaxInkSize*4/3)+4096)
	sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
	if err := conv.SendP2PData(sctx, "alice@example.com", 64, huge); err == nil {
		t.Error("the oversized P2P ink was acked, as if received")
	}
	scancel()
	ink = chatWait(t, alice, 2, func(i *msnclient.Ink) bool { return true })
	if !errors.Is(ink.Err, msnclient.ErrInkTooLarge) {
		t.Fatalf("oversized P2P ink: %v", ink.Err)
	}
	// P2P ink that is not UTF-16 ink text.
	if err := conv.SendP2PData(ctx, "alice@example.com", 64, []byte("plain bytes, no NUL units")); err != nil {
		t.Fatal(err)
	}
	ink = chatWait(t, alice, 3, func(i *msnclient.Ink) bool { return true })
	if !errors.Is(ink.Err, msnclient.ErrBadInk) {
		t.Fatalf("garbage P2P ink: %v", ink.Err)
	}
}

// TestDecodeInk covers the body decoder.
func TestDecodeInk(t *testing.T) {
	for body, want := range map[string]string{
		"base64:aGVsbG8=":          "hello",
		"base64:aGVsbG8":           "hello",
		"BASE64:aGVs\r\nbG8=\x00":  "hello",
		"\r\nbase64:aGVsbG8=\r\n":  "hello",
		"base64:":                  "",
		"aGVsbG8=":                 "",
		"base64:a":                 "",
		"base64:aGVsbG8=aGVsbG8=x": "",
	} {
		got, err := msnclient.DecodeInk([]byte(body))
		if want == "" {
			if err == nil || !errors.Is(err, msnclient.ErrBadInk) {
				t.Errorf("%q: got %q, %v; want ErrBadInk", body, got, err)
			}
			continue
		}
		if err != nil || string(got) != want {
			t.Errorf("%q: got %q, %v", body, got, err)
		}
	}
	huge := "base64:" + strings.Repeat("A", 3*msnclient.MaxInkSize)
	if _, err := msnclient.DecodeInk([]byte(huge)); !errors.Is(err, msnclient.ErrInkTooLarge) {
		t.Errorf("huge: %v", err)
	}
	justOver := "base64:" + strings.Repeat("AAAA", msnclient.MaxInkSize/3+1)
	if _, err := msnclient.DecodeInk([]byte(justOver)); !errors.Is(err, msnclient.ErrInkTooLarge) {
		t.Errorf("just over: %v", err)
	}
}

// inkGIF is a small GIF as WLM's ink pad makes.
func inkGIF(t testing.TB) []byte {
	t.Helper()
	// 2x1 GIF89a, two colours.
	return []byte("GIF89a\x02\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x00\x00\x00\x00\x00,\x00\x00\x00\x00\x02\x00\x01\x00\x00\x02\x02D\x01\x00;")
}
