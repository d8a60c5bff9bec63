package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"image/png"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// mediaBot serves Matrix media from memory, as the bridge bot downloads it.
type mediaBot struct {
	media map[id.ContentURIString][]byte
}

func (b *mediaBot) DownloadMediaToFile(_ context.Context, uri id.ContentURIString, _ *event.EncryptedFileInfo, _ bool, cb func(*os.File) error) error {
	data, ok := b.media[uri]
	if !ok {
		return errors.New("M_NOT_FOUND")
	}
	f, err := os.CreateTemp("", "media")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return cb(f)
}

// fileInbox records what a peer client receives.
type fileInbox struct {
	mu     sync.Mutex
	files  []*msnclient.FileReceived
	texts  []string
	notify chan struct{}
}

func (b *fileInbox) handle(evt any) {
	b.mu.Lock()
	switch e := evt.(type) {
	case *msnclient.FileReceived:
		b.files = append(b.files, e)
	case *msnclient.MessageReceived:
		b.texts = append(b.texts, e.Message.Text)
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// TestHandleMatrixFile: a Matrix image and a file reach the MSN contact
// with equal bytes and their names, the caption follows as text; a
// contact who declines gives a failed status saying so; a group chat
// gets a clear refusal.
func TestHandleMatrixFile(t *testing.T) {
	srv, c := testServer(t)
	for _, email := range []string{"friend@example.com", "picky@example.com"} {
		if err := srv.AddAccount(email, "pw", "Friend"); err != nil {
			t.Fatal(err)
		}
		_ = srv.AddContact(testEmail, email, 1|2|8)
		_ = srv.AddContact(email, testEmail, 1|2|8)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	box := &fileInbox{notify: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig("friend@example.com", "pw", msnp.NewGUID()), box.handle)
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	pickyCfg := c.Config.Servers[0].clientConfig("picky@example.com", "pw", msnp.NewGUID())
	pickyCfg.MaxFileSize = 10 // declines anything bigger
	picky := msnclient.NewClient(pickyCfg, func(any) {})
	if err := picky.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer picky.Close()

	img := pngBytes(t, 40, 30)
	bin := make([]byte, 300_000)
	_, _ = rand.Read(bin)
	c.media = &mediaBot{media: map[id.ContentURIString][]byte{"mxc://x/img": img, "mxc://x/bin": bin}}
	m, states := testClient(t, c, testPassword)
	sends := watchSends(m)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")

	send := func(to string, content *event.MessageEventContent) error {
		return sendFileAndWait(ctx, t, m, sends, makeDMPortalKey(to, m.login.ID), content)
	}
	if err := send("friend@example.com", &event.MessageEventContent{MsgType: event.MsgImage, Body: "look at this", FileName: "cat.png", URL: "mxc://x/img"}); err != nil {
		t.Fatal(err)
	}
	if err := send("friend@example.com", &event.MessageEventContent{MsgType: event.MsgFile, Body: "../data.bin", URL: "mxc://x/bin"}); err != nil {
		t.Fatal(err)
	}
	for {
		box.mu.Lock()
		done := len(box.files) == 2 && len(box.texts) == 1
		box.mu.Unlock()
		if done {
			break
		}
		select {
		case <-box.notify:
		case <-ctx.Done():
			t.Fatalf("peer got %d files and %v", len(box.files), box.texts)
		}
	}
	box.mu.Lock()
	files, texts := slices.Clone(box.files), slices.Clone(box.texts)
	box.mu.Unlock()
	for i, want := range []struct {
		name string
		data []byte
	}{{"cat.png", img}, {"data.bin", bin}} {
		f := files[i]
		got, _ := io.ReadAll(f.File)
		_ = f.File.Close()
		if f.Name != want.name || sha256.Sum256(got) != sha256.Sum256(want.data) || !bytes.Equal(got, want.data) {
			t.Errorf("file %d: %q with %d bytes, want %q with %d", i, f.Name, len(got), want.name, len(want.data))
		}
	}
	if p, err := png.DecodeConfig(bytes.NewReader(files[0].Preview)); err != nil || p.Width != 96 || p.Height != 96 {
		t.Errorf("image preview: %+v %v", p, err)
	}
	if files[1].Preview != nil {
		t.Errorf("a file got a preview of %d bytes", len(files[1].Preview))
	}
	if texts[0] != "look at this" {
		t.Errorf("caption arrived as %q", texts[0])
	}

	err := send("picky@example.com", &event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://x/img"})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "declined the file") {
		t.Errorf("declined file: %v (%+v)", err, st)
	}
	// A group chat: each contact gets the file; one declining fails the
	// message, naming who.
	group := networkid.PortalKey{ID: newGroupPortalID(), Receiver: m.login.ID}
	m.convs.set([]string{"friend@example.com", "picky@example.com"}, group)
	friendFiles := len(box.files)
	err = sendFileAndWait(ctx, t, m, sends, group, &event.MessageEventContent{MsgType: event.MsgFile, Body: "group.bin", URL: "mxc://x/bin"})
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "picky@example.com declined the file") {
		t.Errorf("group file: %v (%+v)", err, st)
	}
	for {
		box.mu.Lock()
		n := len(box.files)
		box.mu.Unlock()
		if n > friendFiles {
			break
		}
		select {
		case <-box.notify:
		case <-ctx.Done():
			t.Fatal("friend never got the group file")
		}
	}
	box.mu.Lock()
	if f := box.files[friendFiles]; f.Name != "group.bin" || f.Size != int64(len(bin)) {
		t.Errorf("friend got %q of %d bytes", f.Name, f.Size)
	}
	box.mu.Unlock()
	// With media_fallback, the contact who declined gets a link instead
	// and the message counts as sent.
	c.Config.MediaFallback = true
	c.publicMedia = fakePublicMedia{}
	pickyTexts := make(chan string, 4)
	_ = picky.Close()
	picky = msnclient.NewClient(pickyCfg, func(evt any) {
		if e, ok := evt.(*msnclient.MessageReceived); ok {
			pickyTexts <- e.Message.Text
		}
	})
	if err := picky.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer picky.Close()
	if err := send("picky@example.com", &event.MessageEventContent{MsgType: event.MsgImage, Body: "so cute", FileName: "cat.png", URL: "mxc://x/img"}); err != nil {
		t.Fatalf("fallback: %v", err)
	}
	select {
	case text := <-pickyTexts:
		if text != "cat.png: https://media.example/mxc://x/img\nso cute" {
			t.Errorf("fallback text %q", text)
		}
	case <-ctx.Done():
		t.Fatal("no fallback link arrived")
	}
	// The user is told that a link went instead of the file, and why: in
	// the success status (Beeper shows it) and as a notice (Element shows
	// no text of a success status).
	sends.mu.Lock()
	notices := slices.Clone(sends.notices)
	var fallbackStatus []string
	for _, st := range sends.statuses {
		if st.Status == event.MessageStatusSuccess && st.Message != "" {
			fallbackStatus = append(fallbackStatus, st.Message)
		}
	}
	sends.mu.Unlock()
	for _, text := range [][]string{notices, fallbackStatus} {
		if len(text) != 1 || !strings.Contains(text[0], "“cat.png” could not be sent over MSN (The contact declined the file.)") ||
			!strings.Contains(text[0], "got a link to it instead") {
			t.Errorf("fallback announced as %q", text)
		}
	}
	c.Config.MediaFallback = false

	err = send("nobody@example.com", &event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png", URL: "mxc://x/img"})
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "is offline") {
		t.Errorf("file to an offline contact: %v (%+v)", err, st)
	}
}

type fakePublicMedia struct{}

func (fakePublicMedia) GetPublicMediaAddressForEvent(_ context.Context, content *event.MessageEventContent) (string, error) {
	return "https://media.example/" + string(content.URL), nil
}

// TestMediaName: the file name and caption of Matrix media, stickers given
// the extension of their type.
func TestMediaName(t *testing.T) {
	for _, c := range []struct {
		content       event.MessageEventContent
		name, caption string
	}{
		{event.MessageEventContent{MsgType: event.MsgImage, Body: "cat.png"}, "cat.png", ""},
		{event.MessageEventContent{MsgType: event.MsgImage, Body: "look", FileName: "cat.png"}, "cat.png", "look"},
		{event.MessageEventContent{MsgType: event.MessageType(event.CapMsgSticker), Body: "Happy cat", Info: &event.FileInfo{MimeType: "image/webp"}}, "Happy cat.webp", ""},
		{event.MessageEventContent{MsgType: event.MsgFile, Body: ""}, "file", ""},
		{event.MessageEventContent{MsgType: event.MsgImage, Body: " ", Info: &event.FileInfo{MimeType: "image/jpeg"}}, "image.jpg", ""},
	} {
		name, caption := mediaName(&c.content)
		if name != c.name || caption != c.caption {
			t.Errorf("%+v: got %q %q, want %q %q", c.content, name, caption, c.name, c.caption)
		}
	}
}

// TestMatrixFileOverLimitNotDownloaded: a file whose event announces a
// size over network.max_file_size is refused with the limit named, before
// the bridge downloads any of it (the media here cannot be downloaded: a
// download attempt would give another error).
func TestMatrixFileOverLimitNotDownloaded(t *testing.T) {
	_, c := testServer(t)
	c.Config.MaxFileSize = 1000
	c.media = &mediaBot{media: map[id.ContentURIString][]byte{}}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	m, states := testClient(t, c, testPassword)
	m.Connect(ctx)
	expectState(t, states, status.StateConnecting, "")
	expectState(t, states, status.StateConnected, "")
	_, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgFile, Body: "big.bin", URL: "mxc://x/big", Info: &event.FileInfo{Size: 1001}},
		Portal:  testPortal(makeDMPortalKey("friend@example.com", m.login.ID)),
	}})
	var he *humanError
	if !errors.As(err, &he) || !strings.Contains(he.human, "too large") {
		t.Fatalf("status %v, want a refusal naming the size limit", err)
	}
}
