package bridge

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"image"
	"image/color/palette"
	"image/gif"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

func randBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// convertRichParts converts msg with an upload recorder per part and
// returns the parts and the bytes uploaded for each.
func convertRichParts(t *testing.T, msg *richMessage, fail error) ([]*bridgev2.ConvertedMessagePart, [][]byte) {
	t.Helper()
	var uploads [][]byte
	up := &multiUpload{fail: fail, got: &uploads}
	portal := &bridgev2.Portal{Portal: &database.Portal{MXID: "!room:example.org"}}
	cm, err := convertRich(context.Background(), portal, up, msg)
	if err != nil {
		t.Fatal(err)
	}
	return cm.Parts, uploads
}

// multiUpload records every upload.
type multiUpload struct {
	uploadRecorder
	fail error
	got  *[][]byte
}

func (u *multiUpload) UploadMediaStream(ctx context.Context, room id.RoomID, size int64, enc bool, cb bridgev2.FileStreamCallback) (id.ContentURIString, *event.EncryptedFileInfo, error) {
	if u.fail != nil {
		return "", nil, u.fail
	}
	var b bytes.Buffer
	if _, err := cb(&b); err != nil {
		return "", nil, err
	}
	if int64(b.Len()) != size {
		return "", nil, errors.New("size mismatch")
	}
	*u.got = append(*u.got, b.Bytes())
	return "mxc://example.org/f", nil, nil
}

// TestWinkMessage: a wink shows an emote with its name, its still picture
// (the thumbnail content.xml names, from an uncompressed or MSZIP cabinet)
// as an image, and the cabinet itself as a file.
func TestWinkMessage(t *testing.T) {
	thumb := pngBytes(t, 50, 50)
	other := pngBytes(t, 10, 10)
	half := randBytes(t, 20000)
	anim := append(half, half...) // spans two CAB blocks; the second refers back into the first
	files := []msntest.CABFile{
		{Name: "content.xml", Data: utf16BOM(`<?xml version="1.0" encoding="UTF-16"?><package type="wink"><item type="animation" file="dance.swf" mimetype="application/x-shockwave-flash"/><item type="thumbnail" file="thumb.png" mimetype="image/png"/></package>`)},
		{Name: "other.png", Data: other},
		{Name: "dance.swf", Data: anim},
		{Name: "thumb.png", Data: thumb},
	}
	for name, cab := range map[string][]byte{"stored": msntest.WinkCAB(files), "MSZIP": mszipCAB(t, files)} {
		t.Run(name, func(t *testing.T) {
			parts, uploads := convertRichParts(t, winkMessage("Break\nDancer", cab), nil)
			if len(parts) != 3 || len(uploads) != 2 {
				t.Fatalf("%d parts, %d uploads", len(parts), len(uploads))
			}
			if c := parts[0].Content; c.MsgType != event.MsgEmote || c.Body != "sent a wink “Break Dancer”" || parts[0].ID != "" {
				t.Fatalf("first part %+v", c)
			}
			img, file := parts[1].Content, parts[2].Content
			if img.MsgType != event.MsgImage || img.Info.Width != 50 || img.Info.MimeType != "image/png" || !bytes.Equal(uploads[0], thumb) {
				t.Fatalf("preview %+v %+v", img, img.Info)
			}
			if file.MsgType != event.MsgFile || file.FileName != "Break Dancer.cab" || !bytes.Equal(uploads[1], cab) ||
				file.Info.MimeType != "application/vnd.ms-cab-compressed" {
				t.Fatalf("file %+v", file)
			}
			if parts[1].ID == parts[2].ID || parts[1].ID == "" {
				t.Fatal("attachments share a part id")
			}
		})
	}
}

// TestWinkMessageWithoutPreview: a cabinet that cannot be read (or has no
// picture) still gives the emote and the file.
func TestWinkMessageWithoutPreview(t *testing.T) {
	good := msntest.WinkCAB([]msntest.CABFile{{Name: "thumb.png", Data: pngBytes(t, 5, 5)}})
	for name, cab := range map[string][]byte{
		"not a CAB":    []byte("hello"),
		"truncated":    good[:60],
		"no picture":   msntest.WinkCAB([]msntest.CABFile{{Name: "a.swf", Data: []byte("FWS")}}),
		"bad picture":  msntest.WinkCAB([]msntest.CABFile{{Name: "a.png", Data: []byte("not a png")}}),
		"empty":        nil,
		"LZX (unread)": setCompression(good, 3),
	} {
		t.Run(name, func(t *testing.T) {
			parts, uploads := convertRichParts(t, winkMessage("", cab), nil)
			if len(parts) != 2 || parts[0].Content.Body != "sent a wink" || parts[1].Content.FileName != "wink.cab" || !bytes.Equal(uploads[0], cab) {
				t.Fatalf("%d parts: %+v", len(parts), parts[0].Content)
			}
		})
	}
}

// TestRichUploadFails: attachments that cannot be uploaded are replaced by
// an emote saying so.
func TestRichUploadFails(t *testing.T) {
	parts, _ := convertRichParts(t, voiceClipMessage(msntest.VoiceClipWAV(1000)), errors.New("M_TOO_LARGE"))
	if len(parts) != 1 || parts[0].ID != "" || !strings.Contains(parts[0].Content.Body, "voice clip, which the bridge could not upload") {
		t.Fatalf("parts %+v", parts[0].Content)
	}
}

// TestVoiceClipMessage: a voice clip is an m.audio WAV with its duration.
func TestVoiceClipMessage(t *testing.T) {
	wav := msntest.VoiceClipWAV(3000)
	parts, uploads := convertRichParts(t, voiceClipMessage(wav), nil)
	c := parts[0].Content
	if len(parts) != 1 || c.MsgType != event.MsgAudio || c.Info.MimeType != "audio/wav" || c.Info.Duration != 3000 || !bytes.Equal(uploads[0], wav) {
		t.Fatalf("%+v %+v", c, c.Info)
	}
	parts, _ = convertRichParts(t, voiceClipMessage([]byte("garbage")), nil)
	if c := parts[0].Content; c.MsgType != event.MsgFile {
		t.Fatalf("an unreadable clip is %s", c.MsgType)
	}
}

// TestWAVDuration covers the header reader.
func TestWAVDuration(t *testing.T) {
	wav := msntest.VoiceClipWAV(2000)
	if ms, ok := wavDuration(wav); !ok || ms != 2000 {
		t.Fatalf("%d %v", ms, ok)
	}
	if ms, ok := wavDuration(wav[:len(wav)-2000]); !ok || ms != 1000 {
		t.Fatalf("truncated data: %d %v", ms, ok)
	}
	// PCM, 16 kHz 16-bit mono, after an odd-sized chunk (padded to even).
	pcm := []byte("RIFF\x00\x00\x00\x00WAVEjunk\x03\x00\x00\x00abc\x00fmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x7d\x00\x00")
	pcm = append(pcm, make([]byte, 32000)...)
	if ms, ok := wavDuration(pcm); !ok || ms != 1000 {
		t.Fatalf("PCM: %d %v", ms, ok)
	}
	for _, bad := range [][]byte{nil, []byte("RIFF\x00\x00\x00\x00WAVE"), wav[:40], []byte("RIFF\x04\x00\x00\x00WAVEdata\xff\xff\xff\xff")} {
		if ms, ok := wavDuration(bad); ok {
			t.Errorf("%q: %d ms", bad, ms)
		}
	}
}

// TestInkMessage: GIF ink is an image with its size, ISF and broken ink
// are emotes saying what was sent.
func TestInkMessage(t *testing.T) {
	var buf bytes.Buffer
	if err := gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, 2, 1), palette.Plan9), nil); err != nil {
		t.Fatal(err)
	}
	gifData := buf.Bytes()
	parts, uploads := convertRichParts(t, inkMessage(&msnclient.Ink{ContentType: msnclient.InkGIF, Data: gifData}), nil)
	if c := parts[0].Content; c.MsgType != event.MsgImage || c.Info.Width != 2 || c.Info.Height != 1 || c.Info.MimeType != "image/gif" || !bytes.Equal(uploads[0], gifData) {
		t.Fatalf("GIF ink: %+v %+v", c, c.Info)
	}
	for _, tc := range []struct {
		evt  *msnclient.Ink
		want string
	}{
		{&msnclient.Ink{ContentType: msnclient.InkISF, Data: []byte{1, 2, 3}}, "sent a handwritten message, which Matrix cannot show"},
		{&msnclient.Ink{ContentType: msnclient.InkGIF, Err: msnclient.ErrBadInk}, "sent a handwritten message that could not be read"},
		{&msnclient.Ink{ContentType: msnclient.InkGIF, Err: msnclient.ErrInkTooLarge}, "sent a handwritten message that was too large to receive"},
		{&msnclient.Ink{ContentType: msnclient.InkGIF, Data: []byte("GIF89a not really")}, "sent a handwritten message that could not be read"},
		{&msnclient.Ink{ContentType: msnclient.InkGIF, Data: pngBytes(t, 2, 2)}, "sent a handwritten message that could not be read"},
	} {
		parts, uploads := convertRichParts(t, inkMessage(tc.evt), nil)
		if c := parts[0].Content; len(parts) != 1 || len(uploads) != 0 || c.MsgType != event.MsgEmote || c.Body != tc.want {
			t.Errorf("%+v: %+v", tc.evt, c)
		}
	}
}

// TestHandleRichDatacast: a wink is fetched from its sender and posted
// with the time it arrived; a failed fetch and a datacast without an
// object leave an emote naming what was sent.
func TestHandleRichDatacast(t *testing.T) {
	cab := msntest.WinkCAB([]msntest.CABFile{{Name: "x.swf", Data: []byte("FWS")}})
	obj := p2p.NewMSNObject("bob@x.com", p2p.ObjectWink, cab, "TFR1.tmp", "Wave")
	wink := &msnclient.Datacast{ConversationEvent: msnclient.ConversationEvent{Participants: []string{"bob@x.com"}},
		From: "bob@x.com", ID: msnclient.DatacastWink, Data: []byte("ID: 2\r\nData: " + obj.String() + "\r\n\r\n")}
	for _, tc := range []struct {
		name  string
		evt   *msnclient.Datacast
		fetch fetchObjectFunc
		want  string
		files int
	}{
		{"ok", wink, func(_ context.Context, from string, o *msnclient.DatacastObject) ([]byte, error) {
			if from != "bob@x.com" || o.Name != "Wave" {
				return nil, errors.New("wrong request")
			}
			return cab, nil
		}, "sent a wink “Wave”", 1},
		{"declined", wink, func(context.Context, string, *msnclient.DatacastObject) ([]byte, error) {
			return nil, p2p.ErrDeclined
		}, "sent a wink, which could not be received: the sender's client refused to send it", 0},
		{"timeout", &msnclient.Datacast{From: "bob@x.com", ID: msnclient.DatacastVoiceClip, Data: wink.Data},
			func(context.Context, string, *msnclient.DatacastObject) ([]byte, error) {
				return nil, p2p.ErrTimeout
			}, "sent a voice clip, which could not be received: the sender's client did not send it in time", 0},
		{"own other client", &msnclient.Datacast{ConversationEvent: wink.ConversationEvent, From: "me@x.com", ID: msnclient.DatacastWink, Data: wink.Data}, nil,
			"sent a wink from another MSN client", 0},
		{"no object", &msnclient.Datacast{From: "bob@x.com", ID: msnclient.DatacastWink, Data: []byte("ID: 2\r\n\r\n")}, nil,
			"sent a wink, which could not be received: it named no valid MSN object", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testLoginClient(t)
			queued := make(chan bridgev2.RemoteEvent, 4)
			m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
			before := time.Now()
			m.handleRichDatacast(context.Background(), tc.evt, tc.fetch)
			var evt bridgev2.RemoteEvent
			select {
			case evt = <-queued:
			case <-time.After(testTimeout):
				t.Fatal("nothing was queued")
			}
			msg := evt.(*simplevent.Message[*richMessage])
			if msg.Timestamp.Before(before) || msg.Timestamp.After(time.Now()) || msg.PortalKey.ID == "" {
				t.Fatalf("meta %+v", msg.EventMeta)
			}
			if msg.Data.emote != tc.want || len(msg.Data.files) != tc.files {
				t.Fatalf("emote %q, %d files", msg.Data.emote, len(msg.Data.files))
			}
			if tc.files > 0 && !bytes.Equal(msg.Data.files[0].data, cab) {
				t.Fatal("not the fetched wink")
			}
		})
	}
}

// TestUnknownContentNotice: content the bridge cannot show is named;
// signalling is not.
func TestUnknownContentNotice(t *testing.T) {
	for ct, want := range map[string]string{
		"application/x-ms-foo":     "sent a message the bridge cannot show (application/x-ms-foo)",
		"Text/X-Something\r\nEvil": "sent a message the bridge cannot show (text/x-something evil)",
		"text/x-msnmsgr-datacast":  "sent something the bridge cannot show (a malformed MSN datacast)",
		"text/x-clientcaps":        "",
		"text/x-keepalive":         "",
		"application/x-msnmsgrp2p": "",
	} {
		got, ok := unknownContentNotice(ct)
		if got != want || ok != (want != "") {
			t.Errorf("%q: %q %v", ct, got, ok)
		}
	}
}

// utf16BOM encodes s as UTF-16LE with a byte-order mark, as WLM writes
// content.xml.
func utf16BOM(s string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, r := range s {
		b = binary.LittleEndian.AppendUint16(b, uint16(r))
	}
	return b
}

// setCompression returns a copy of a one-folder cabinet with another
// compression type.
func setCompression(cab []byte, typ uint16) []byte {
	c := append([]byte(nil), cab...)
	binary.LittleEndian.PutUint16(c[36+6:], typ)
	return c
}

// mszipCAB builds a cabinet whose folder is MSZIP-compressed, each block's
// deflate stream using the previous output as its dictionary, as
// Microsoft's compressor does.
func mszipCAB(t testing.TB, files []msntest.CABFile) []byte {
	t.Helper()
	stored := msntest.WinkCAB(files)
	le := binary.LittleEndian
	dataOff := int(le.Uint32(stored[36:]))
	nBlocks := int(le.Uint16(stored[40:]))
	head := append([]byte(nil), stored[:dataOff]...)
	le.PutUint16(head[42:], cabCompressMSZIP)
	var all []byte
	off := dataOff
	for range nBlocks {
		n := int(le.Uint16(stored[off+4:]))
		all = append(all, stored[off+8:off+8+n]...)
		off += 8 + n
	}
	out := head
	for i := 0; i*cabBlockMax < len(all); i++ {
		block := all[i*cabBlockMax : min((i+1)*cabBlockMax, len(all))]
		var z bytes.Buffer
		w, err := flate.NewWriterDict(&z, flate.BestCompression, all[max(0, i*cabBlockMax-cabBlockMax):i*cabBlockMax])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write(block)
		_ = w.Close()
		out = le.AppendUint32(out, 0)
		out = le.AppendUint16(out, uint16(2+z.Len()))
		out = le.AppendUint16(out, uint16(len(block)))
		out = append(append(out, 'C', 'K'), z.Bytes()...)
	}
	le.PutUint32(out[8:], uint32(len(out)))
	return out
}

// TestHandleDatacastUnknown: a datacast of another kind leaves an emote
// naming it.
func TestHandleDatacastUnknown(t *testing.T) {
	m := testLoginClient(t)
	queued := make(chan bridgev2.RemoteEvent, 4)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
	m.handleDatacast(context.Background(), &msnclient.Datacast{ConversationEvent: msnclient.ConversationEvent{Participants: []string{"bob@x.com"}},
		From: "bob@x.com", ID: 7, Data: []byte("ID: 7\r\n\r\n")})
	select {
	case evt := <-queued:
		c := evt.(*simplevent.Message[*event.MessageEventContent]).Data
		if c.MsgType != event.MsgEmote || c.Body != "sent something the bridge cannot show (MSN datacast 7)" {
			t.Fatalf("%+v", c)
		}
	case <-time.After(testTimeout):
		t.Fatal("nothing was queued")
	}
}
