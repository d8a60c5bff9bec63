package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"image"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// fileTimeout bounds one 5 MiB transfer through the switchboard on a
// loaded machine.
const fileTimeout = 3 * time.Minute

func filePNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 64, 48))
	for i := range img.Pix {
		img.Pix[i] = byte(i * 7)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// testFiles: an image and a 5 MiB file go both ways with equal bytes and
// the right message types.
func (w *world) testFiles(t *testing.T) {
	pic, bin := filePNG(t), randomBytes(t, 5<<20)
	ghost := w.br.GhostMXID(bobEmail)
	for _, f := range []struct {
		name    string
		data    []byte
		msgType event.MessageType
	}{{"photo.png", pic, event.MsgImage}, {"archive.bin", bin, event.MsgFile}} {
		t.Run("FromMSN/"+f.name, func(t *testing.T) {
			cursor := w.user.Cursor()
			if err := w.bob.SendFile(w.ctx, meEmail, msnclient.File{Name: f.name, Size: int64(len(f.data)), Reader: bytes.NewReader(f.data)}); err != nil {
				t.Fatal(err)
			}
			evt, err := w.user.WaitEventAfter(w.ctx, cursor, fileTimeout, func(evt *event.Event) bool {
				msg := evt.Content.AsMessage()
				return evt.RoomID == w.bobRoom && evt.Sender == ghost && evt.Type == event.EventMessage && msg != nil && msg.Body == f.name
			})
			if err != nil {
				t.Fatal(err)
			}
			msg := evt.Content.AsMessage()
			if msg.MsgType != f.msgType || msg.Info == nil || msg.Info.Size != len(f.data) {
				t.Fatalf("got %s %+v", msg.MsgType, msg.Info)
			}
			if f.msgType == event.MsgImage && (msg.Info.Width != 64 || msg.Info.Height != 48 || msg.Info.MimeType != "image/png") {
				t.Errorf("image info %+v", msg.Info)
			}
			uri, err := msg.URL.Parse()
			if err != nil {
				t.Fatal(err)
			}
			got, err := w.user.DownloadBytes(w.ctx, uri)
			if err != nil {
				t.Fatal(err)
			}
			if sha256.Sum256(got) != sha256.Sum256(f.data) {
				t.Fatalf("downloaded %d bytes differing from the %d sent", len(got), len(f.data))
			}
		})
		t.Run("ToMSN/"+f.name, func(t *testing.T) {
			up, err := w.user.UploadBytes(w.ctx, f.data, "application/octet-stream")
			if err != nil {
				t.Fatal(err)
			}
			cursor, bobCursor := w.user.Cursor(), w.bob.cursor()
			resp, err := w.user.SendMessageEvent(w.ctx, w.bobRoom, event.EventMessage, &event.MessageEventContent{
				MsgType: f.msgType, Body: f.name, URL: up.ContentURI.CUString(),
				Info: &event.FileInfo{Size: len(f.data)},
			})
			if err != nil {
				t.Fatal(err)
			}
			// A text sent right after the file is not held up by the
			// transfer: the contact has it before the file is complete.
			after := "sent right after " + f.name
			if _, err := w.user.SendText(w.ctx, w.bobRoom, after); err != nil {
				t.Fatal(err)
			}
			got, err := w.bob.waitAfter(w.ctx, bobCursor, fileTimeout, "file "+f.name, func(evt any) bool {
				e, ok := evt.(*msnclient.FileReceived)
				return ok && e.Name == f.name
			})
			if err != nil {
				t.Fatal(err)
			}
			if f.msgType == event.MsgFile && !w.bob.before(bobCursor, got, func(evt any) bool {
				e, ok := evt.(*msnclient.MessageReceived)
				return ok && e.Message.Text == after
			}) {
				t.Errorf("the text sent after the file did not arrive before the 5 MiB transfer ended")
			}
			if _, err := w.bob.waitText(w.ctx, bobCursor, meEmail, after); err != nil {
				t.Fatal(err)
			}
			e := got.(*msnclient.FileReceived)
			data, err := io.ReadAll(e.File)
			_ = e.File.Close()
			if err != nil || sha256.Sum256(data) != sha256.Sum256(f.data) || e.From != meEmail {
				t.Fatalf("bob got %d bytes from %s (%v), want %d", len(data), e.From, err, len(f.data))
			}
			if err := w.waitSuccess(cursor, w.bobRoom, resp.EventID); err != nil {
				t.Fatal(err)
			}
			// The file's message was stored when its transfer ended: a
			// reply to it quotes it.
			bobCursor = w.bob.cursor()
			reply := &event.MessageEventContent{MsgType: event.MsgText, Body: "about that file"}
			reply.SetReply(&event.Event{ID: resp.EventID, RoomID: w.bobRoom, Sender: w.user.UserID})
			if _, err := w.user.SendMessageEvent(w.ctx, w.bobRoom, event.EventMessage, reply); err != nil {
				t.Fatal(err)
			}
			quoted, err := w.bob.waitText(w.ctx, bobCursor, meEmail, "about that file")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(quoted.Message.Text, ": "+f.name+"\n") {
				t.Errorf("a reply to the file arrived as %q, without quoting it", quoted.Message.Text)
			}
		})
	}
}

// testFileDeclined: a contact whose client declines the file (here: over
// its size limit) gives the Matrix message a failed status saying so.
func (w *world) testFileDeclined(t *testing.T) {
	// Bob signs in again with a client that takes files of 1000 bytes at
	// most; the usual bob is back afterwards.
	_ = w.bob.Close()
	picky := newPeer(bobEmail, "Bob Builder")
	cfg := msnConfig(w.srv, bobEmail, peerPass)
	cfg.MaxFileSize = 1000
	picky.Client = msnclient.NewClient(cfg, picky.handle)
	if err := picky.Connect(w.ctx); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = picky.Close()
		w.bobBack(t)
	}()
	data := randomBytes(t, 5000)
	up, err := w.user.UploadBytes(w.ctx, data, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	cursor := w.user.Cursor()
	resp, err := w.user.SendMessageEvent(w.ctx, w.bobRoom, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgFile, Body: "big.bin", URL: up.ContentURI.CUString(), Info: &event.FileInfo{Size: len(data)},
	})
	if err != nil {
		t.Fatal(err)
	}
	reason, err := w.waitFailure(cursor, w.bobRoom, resp.EventID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "declined the file") {
		t.Fatalf("failure reported as %q", reason)
	}
}

// testFileFigures measures a 10 MiB file each way through the bridge (MB/s
// from the send until the other side has it all) and the bridge's peak
// RSS growth meanwhile (sampled every 20 ms). Figures only: no assertion on
// them.
func (w *world) testFileFigures(t *testing.T) {
	const size = 10 << 20
	data := randomBytes(t, size)
	ghost := w.br.GhostMXID(bobEmail)
	measure := func(name string, transfer func()) {
		base, err := w.br.Process().RSSKiB()
		if err != nil {
			t.Fatal(err)
		}
		stop, peak := make(chan struct{}), make(chan int64)
		go func() {
			top := base
			for {
				if rss, err := w.br.Process().RSSKiB(); err == nil {
					top = max(top, rss)
				}
				select {
				case <-stop:
					peak <- top
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		start := time.Now()
		transfer()
		took := time.Since(start)
		close(stop)
		top := <-peak
		recordFigure(t, name+"_rate", fmt.Sprintf("%.1f MB/s", float64(size)/1e6/took.Seconds()))
		recordFigure(t, name+"_bridge_peak_rss_growth", fmt.Sprintf("%.1f MiB", float64(top-base)/1024))
	}
	measure("file_10mib_msn_to_matrix", func() {
		cursor := w.user.Cursor()
		if err := w.bob.SendFile(w.ctx, meEmail, msnclient.File{Name: "ten.bin", Size: size, Reader: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.user.WaitEventAfter(w.ctx, cursor, fileTimeout, func(evt *event.Event) bool {
			msg := evt.Content.AsMessage()
			return evt.RoomID == w.bobRoom && evt.Sender == ghost && msg != nil && msg.Body == "ten.bin"
		}); err != nil {
			t.Fatal(err)
		}
	})
	up, err := w.user.UploadBytes(w.ctx, data, "application/octet-stream")
	if err != nil {
		t.Fatal(err)
	}
	measure("file_10mib_matrix_to_msn", func() {
		bobCursor := w.bob.cursor()
		if _, err := w.user.SendMessageEvent(w.ctx, w.bobRoom, event.EventMessage, &event.MessageEventContent{
			MsgType: event.MsgFile, Body: "ten.bin", URL: up.ContentURI.CUString(), Info: &event.FileInfo{Size: size},
		}); err != nil {
			t.Fatal(err)
		}
		got, err := w.bob.waitAfter(w.ctx, bobCursor, fileTimeout, "file ten.bin", func(evt any) bool {
			e, ok := evt.(*msnclient.FileReceived)
			return ok && e.Name == "ten.bin"
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = got.(*msnclient.FileReceived).File.Close()
	})
}

// before reports whether an event after cursor that match accepts came
// before the event last.
func (p *peer) before(cursor int, last any, match func(any) bool) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, evt := range p.events[cursor:] {
		if evt == last {
			return false
		}
		if match(evt) {
			return true
		}
	}
	return false
}
