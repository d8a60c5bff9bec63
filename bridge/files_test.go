package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestSniffFile: the content decides the message type, the extension only
// when the content says nothing specific; images get their dimensions.
func TestSniffFile(t *testing.T) {
	for _, c := range []struct {
		name     string
		data     []byte
		msgType  event.MessageType
		mimeType string
		w, h     int
	}{
		{"holiday.bin", pngBytes(t, 30, 20), event.MsgImage, "image/png", 30, 20},
		{"photo.jpg", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj"), event.MsgFile, "application/pdf", 0, 0},
		{"song.mp3", []byte("\xff\xfb\x90\x00" + strings.Repeat("\x00", 100)), event.MsgAudio, "audio/mpeg", 0, 0},
		{"clip.mp4", append([]byte("\x00\x00\x00\x18ftypmp42"), make([]byte, 50)...), event.MsgVideo, "video/mp4", 0, 0},
		{"blob", []byte{0x00, 0x01, 0x02, 0xfe}, event.MsgFile, "application/octet-stream", 0, 0},
		{"broken.png", []byte("\x89PNG\r\n\x1a\nnot really"), event.MsgImage, "image/png", 0, 0},
	} {
		k := sniffFile(bytes.NewReader(c.data), int64(len(c.data)), c.name)
		if k.msgType != c.msgType || k.mimeType != c.mimeType || k.width != c.w || k.height != c.h {
			t.Errorf("%s: got %+v, want %s %s %dx%d", c.name, k, c.msgType, c.mimeType, c.w, c.h)
		}
	}
}

// uploadRecorder is the part of the Matrix API a file conversion uses.
type uploadRecorder struct {
	bridgev2.MatrixAPI
	got  bytes.Buffer
	res  *bridgev2.FileStreamResult
	size int64
	fail error
}

func (u *uploadRecorder) UploadMediaStream(_ context.Context, _ id.RoomID, size int64, _ bool, cb bridgev2.FileStreamCallback) (id.ContentURIString, *event.EncryptedFileInfo, error) {
	if u.fail != nil {
		return "", nil, u.fail
	}
	u.size = size
	res, err := cb(&u.got)
	u.res = res
	return "mxc://example.org/file", nil, err
}

func receivedFile(t *testing.T, name string, data []byte) *msnclient.FileReceived {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return &msnclient.FileReceived{From: "bob@example.com", Name: name, Size: int64(len(data)), File: f}
}

// TestConvertReceivedFile: a received image is uploaded whole and becomes
// an m.image with name, size, type and dimensions; the file is closed.
func TestConvertReceivedFile(t *testing.T) {
	data := pngBytes(t, 64, 48)
	evt := receivedFile(t, "cat.png", data)
	up := &uploadRecorder{}
	portal := &bridgev2.Portal{Portal: &database.Portal{MXID: "!room:example.org"}}
	cm, err := convertReceivedFile(context.Background(), portal, up, evt)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(up.got.Bytes(), data) || up.size != int64(len(data)) || up.res.MimeType != "image/png" || up.res.FileName != "cat.png" {
		t.Fatalf("uploaded %d bytes as %+v", up.got.Len(), up.res)
	}
	c := cm.Parts[0].Content
	if c.MsgType != event.MsgImage || c.Body != "cat.png" || c.FileName != "cat.png" || c.URL != "mxc://example.org/file" ||
		c.Info.MimeType != "image/png" || c.Info.Size != len(data) || c.Info.Width != 64 || c.Info.Height != 48 {
		t.Fatalf("content %+v info %+v", c, c.Info)
	}
	if _, err := evt.File.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("the spool file is still open: %v", err)
	}
}

// TestConvertReceivedFileUploadFails: a file that cannot be uploaded
// leaves a notice naming it, not nothing.
func TestConvertReceivedFileUploadFails(t *testing.T) {
	evt := receivedFile(t, "big.zip", make([]byte, 3000))
	up := &uploadRecorder{fail: errors.New("M_TOO_LARGE")}
	portal := &bridgev2.Portal{Portal: &database.Portal{MXID: "!room:example.org"}}
	cm, err := convertReceivedFile(context.Background(), portal, up, evt)
	if err != nil {
		t.Fatal(err)
	}
	c := cm.Parts[0].Content
	if c.MsgType != event.MsgNotice || !strings.Contains(c.Body, "big.zip") || !strings.Contains(c.Body, "could not upload") {
		t.Fatalf("got %+v", c)
	}
}

// TestFileFailedText: each way a file can fail to arrive reads clearly.
func TestFileFailedText(t *testing.T) {
	for _, c := range []struct {
		evt  msnclient.FileFailed
		want string
	}{
		{msnclient.FileFailed{Name: "film.avi", Size: 150 << 20, Declined: true, Err: fmt.Errorf("%w (1 bytes, limit 2)", msnclient.ErrFileTooLarge)},
			"sent a file “film.avi” (150.0 MiB), which the bridge declined: the file is over the bridge's size limit"},
		{msnclient.FileFailed{Name: "report.doc", Size: 20480, Declined: true, Err: msnclient.ErrFileNeedsDirect},
			"sent a file “report.doc” (20.0 KiB), which the bridge declined: the sender's client offered it over a direct connection"},
		{msnclient.FileFailed{Name: "a.txt", Size: 10, Err: fmt.Errorf("x: %w", p2p.ErrClosed)},
			"sent a file “a.txt” (10 bytes), which did not arrive: the sender cancelled the transfer"},
		{msnclient.FileFailed{Name: "b.txt", Size: 10, Err: fmt.Errorf("x: %w", p2p.ErrTimeout)},
			"which did not arrive: the transfer stalled"},
		{msnclient.FileFailed{Declined: true, Err: msnclient.ErrFileBadOffer}, "sent a file, which the bridge declined: the file offer could not be read"},
	} {
		if got := fileFailedText(&c.evt); !strings.Contains(got, c.want) {
			t.Errorf("got %q, want it to contain %q", got, c.want)
		}
	}
}
