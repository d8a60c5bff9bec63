package msnclient_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// readReceived reads and closes a received file.
func readReceived(t testing.TB, e *msnclient.FileReceived) []byte {
	t.Helper()
	defer e.File.Close()
	b, err := io.ReadAll(e.File)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestFileRoundTrip: a file sent with SendFile arrives whole with its
// cleaned name, in every pair of P2P-capable dialects, and leaves no P2P
// state behind.
func TestFileRoundTrip(t *testing.T) {
	for _, pair := range [][2]int{{11, 18}, {15, 15}, {18, 11}} {
		t.Run(fmt.Sprintf("MSNP%d-MSNP%d", pair[0], pair[1]), func(t *testing.T) {
			t.Parallel()
			_, alice, bob, ctx := chatPair(t, pair[0], pair[1], nil)
			data := randomPicture(t, 300_000) // about 250 chunks
			if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: `..\..\Windows/holiday.jpg`, Size: int64(len(data)), Reader: bytes.NewReader(data), Preview: []byte("\x89PNG preview")}); err != nil {
				t.Fatal(err)
			}
			e := chatWait(t, bob, 1, func(*msnclient.FileReceived) bool { return true })
			if got := readReceived(t, e); !bytes.Equal(got, data) {
				t.Fatalf("received %d bytes differing from the %d sent", len(got), len(data))
			}
			if e.Name != "holiday.jpg" || string(e.Preview) != "\x89PNG preview" || e.Size != int64(len(data)) || e.From != alice.email ||
				len(e.Participants) != 1 || e.Participants[0] != alice.email {
				t.Fatalf("received %+v", e)
			}
			waitNoP2P(t, alice.Client, bob.Client)
		})
	}
}

// TestFileHostileNames: names with path separators, control characters
// and great length arrive cleaned.
func TestFileHostileNames(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 15, 15, nil)
	names := map[string]string{
		"/etc/passwd":                           "passwd",
		"evil\r\nInvitation-Command: x\x00.txt": "evilInvitation-Command: x.txt",
		strings.Repeat("a", 400) + ".zip":       strings.Repeat("a", 236) + ".zip",
		"..":                                    "file",
	}
	n := 0
	for in, want := range names {
		n++
		if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: in, Size: 3, Reader: strings.NewReader("abc")}); err != nil {
			t.Fatal(err)
		}
		e := chatWait(t, bob, n, func(*msnclient.FileReceived) bool { return true })
		if got := readReceived(t, e); e.Name != want || string(got) != "abc" {
			t.Errorf("sent as %q, received as %q (%q), want %q", in, e.Name, got, want)
		}
	}
}

// TestFileSizeLimit: a file exactly at the receiver's limit is accepted,
// one byte over it is declined, the sender learns it and the receiver
// reports what it declined.
func TestFileSizeLimit(t *testing.T) {
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 15, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, func(c *msnclient.Config) { c.MaxFileSize = 5000 })
	ctx := chatCtx(t)
	at := randomPicture(t, 5000)
	if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: "at.bin", Size: 5000, Reader: bytes.NewReader(at)}); err != nil {
		t.Fatal(err)
	}
	if got := readReceived(t, chatWait(t, bob, 1, func(*msnclient.FileReceived) bool { return true })); !bytes.Equal(got, at) {
		t.Fatal("file at the limit differs")
	}
	err := alice.SendFile(ctx, bob.email, msnclient.File{Name: "over.bin", Size: 5001, Reader: bytes.NewReader(make([]byte, 5001))})
	if !errors.Is(err, msnclient.ErrFileDeclined) {
		t.Fatalf("over the limit: %v, want ErrFileDeclined", err)
	}
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	if !e.Declined || !errors.Is(e.Err, msnclient.ErrFileTooLarge) || e.Name != "over.bin" || e.Size != 5001 {
		t.Fatalf("receiver reported %+v", e)
	}
	if n := chatCount(bob, func(*msnclient.FileReceived) bool { return true }); n != 1 {
		t.Fatalf("%d files received", n)
	}
}

// TestFileEmpty: an empty file is not sent, and one offered is declined
// with a reason (a zero-length P2P message carries no data).
func TestFileEmpty(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 15, 15, nil)
	if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: "e", Reader: strings.NewReader("")}); !errors.Is(err, msnclient.ErrFileEmpty) {
		t.Fatalf("sending an empty file: %v", err)
	}
	err := msnclient.OfferFileRaw(ctx, alice.Client, bob.email, (&p2p.FileContext{Name: "empty.txt"}).Marshal(), nil)
	if !errors.Is(err, p2p.ErrDeclined) {
		t.Fatalf("offering an empty file: %v", err)
	}
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	if !e.Declined || !errors.Is(e.Err, msnclient.ErrFileEmpty) || e.Name != "empty.txt" {
		t.Fatalf("receiver reported %+v", e)
	}
}

// TestFileWrongSize: a sender that sends more or fewer bytes than its
// offer announced gets no file through, and the receiver says why.
func TestFileWrongSize(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 15, 15, nil)
	for i, c := range []struct{ announced, sent int }{{100, 200}, {200, 100}} {
		fc := (&p2p.FileContext{Name: "f.bin", Size: uint64(c.announced)}).Marshal()
		_ = msnclient.OfferFileRaw(ctx, alice.Client, bob.email, fc, make([]byte, c.sent))
		e := chatWait(t, bob, i+1, func(*msnclient.FileFailed) bool { return true })
		if e.Declined || !errors.Is(e.Err, msnclient.ErrFileSizeMismatch) {
			t.Fatalf("announced %d, sent %d: receiver reported %+v", c.announced, c.sent, e)
		}
	}
	if n := chatCount(bob, func(*msnclient.FileReceived) bool { return true }); n != 0 {
		t.Fatalf("%d files received", n)
	}
	waitNoP2P(t, bob.Client)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLegacyFileInvite: an MSNP8-style file offer (as MSN Messenger 5 and
// Trillian send it) is reported with the file's name and why it cannot be
// received, and declined with CANCEL so that the sender stops waiting.
func TestLegacyFileInvite(t *testing.T) {
	var logs syncBuffer
	logger := zerolog.New(&logs).Level(zerolog.DebugLevel)
	_, alice, bob, ctx := chatPair(t, 8, 15, func(c *msnclient.Config) { c.Logger = &logger })
	invite := "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\n" +
		"Application-Name: File Transfer\r\nApplication-GUID: {5D3E02AB-6190-11D3-BBBB-00C04F795683}\r\n" +
		"Invitation-Command: INVITE\r\nInvitation-Cookie: 184637\r\nApplication-File: ../report.doc\r\n" +
		"Application-FileSize: 20480\r\nConnectivity: N\r\n\r\n"
	if err := msnclient.SendRawMessage(ctx, alice.Client, bob.email, []byte(invite)); err != nil {
		t.Fatal(err)
	}
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	if e.Name != "report.doc" || e.Size != 20480 || !e.Declined || !errors.Is(e.Err, msnclient.ErrFileNeedsDirect) || e.From != alice.email {
		t.Fatalf("bob got %+v", e)
	}
	deadline := time.Now().Add(chatTimeout)
	for !strings.Contains(logs.String(), `"command":"CANCEL","cancel_code":"REJECT_NOT_INSTALLED"`) {
		if time.Now().After(deadline) {
			t.Fatalf("alice got no CANCEL; her log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := chatCount(bob, func(*msnclient.UnknownMessage) bool { return true }); n != 0 {
		t.Fatalf("bob also got %d unknown messages", n)
	}
}

// stallingReader yields n zero bytes, then blocks until release is closed.
type stallingReader struct {
	n       int
	release chan struct{}
}

func (r *stallingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		<-r.release
		return 0, io.ErrUnexpectedEOF
	}
	k := min(len(p), r.n)
	clear(p[:k])
	r.n -= k
	return k, nil
}

// TestFileStalled: a sender that stops halfway leaves the receiver with a
// FileFailed (not a hang) once its stall timeout passed, and no P2P state.
func TestFileStalled(t *testing.T) {
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	alice := chatConnect(t, srv, "alice@example.com", 15, nil)
	bob := chatConnect(t, srv, "bob@example.com", 15, func(c *msnclient.Config) { c.FileStallTimeout = 500 * time.Millisecond })
	ctx := chatCtx(t)
	r := &stallingReader{n: 50_000, release: make(chan struct{})}
	sent := make(chan error, 1)
	go func() {
		sent <- alice.SendFile(ctx, bob.email, msnclient.File{Name: "half.bin", Size: 100_000, Reader: r})
	}()
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	close(r.release)
	if e.Declined || !errors.Is(e.Err, p2p.ErrTimeout) || e.Name != "half.bin" || e.Size != 100_000 {
		t.Fatalf("bob reported %+v", e)
	}
	if err := <-sent; err == nil {
		t.Fatal("alice's SendFile succeeded")
	}
	if n := chatCount(bob, func(*msnclient.FileReceived) bool { return true }); n != 0 {
		t.Fatalf("%d files received", n)
	}
	waitNoP2P(t, alice.Client, bob.Client)
}

// TestFileCancelledBySender: a sender that gives up halfway (its send is
// cancelled) closes the session, and the receiver reports the transfer as
// cancelled at once rather than after its stall timeout.
func TestFileCancelledBySender(t *testing.T) {
	_, alice, bob, ctx := chatPair(t, 15, 15, nil)
	r := &stallingReader{n: 50_000, release: make(chan struct{})}
	sendCtx, cancel := context.WithCancel(ctx)
	sent := make(chan error, 1)
	go func() {
		sent <- alice.SendFile(sendCtx, bob.email, msnclient.File{Name: "half.bin", Size: 100_000, Reader: r})
	}()
	// Wait until the transfer is under way, then cancel it.
	deadline := time.Now().Add(chatTimeout)
	for {
		if _, calls := bob.P2PInFlight(); calls > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the transfer never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	close(r.release)
	if err := <-sent; !errors.Is(err, context.Canceled) {
		t.Fatalf("SendFile returned %v, want context.Canceled", err)
	}
	start := time.Now()
	e := chatWait(t, bob, 1, func(*msnclient.FileFailed) bool { return true })
	if e.Declined || !errors.Is(e.Err, p2p.ErrClosed) {
		t.Fatalf("bob reported %+v", e)
	}
	if time.Since(start) > msnclient.DefaultFileStallTimeout/2 {
		t.Fatal("bob only noticed after the stall timeout")
	}
	waitNoP2P(t, alice.Client, bob.Client)
}
