package bridge

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// statusLog records what the bridge reports to Matrix about sends: message
// statuses by event, stored message rows and notices.
type statusLog struct {
	mu       sync.Mutex
	statuses map[id.EventID]*bridgev2.MessageStatus
	rows     map[id.EventID]*database.Message
	notices  []string
	notify   chan struct{}
}

// watchSends installs the recording hooks on m.
func watchSends(m *MSNClient) *statusLog {
	l := &statusLog{statuses: map[id.EventID]*bridgev2.MessageStatus{}, rows: map[id.EventID]*database.Message{}, notify: make(chan struct{}, 1)}
	poke := func() {
		select {
		case l.notify <- struct{}{}:
		default:
		}
	}
	m.delivery.sendStatus = func(_ context.Context, st *bridgev2.MessageStatus, info *bridgev2.MessageStatusEventInfo) {
		l.mu.Lock()
		l.statuses[info.SourceEventID] = st
		l.mu.Unlock()
		poke()
	}
	m.delivery.saveMessage = func(_ context.Context, row *database.Message) error {
		l.mu.Lock()
		l.rows[row.MXID] = row
		l.mu.Unlock()
		poke()
		return nil
	}
	m.delivery.sendNotice = func(_ context.Context, _ networkid.PortalKey, text string) {
		l.mu.Lock()
		l.notices = append(l.notices, text)
		l.mu.Unlock()
		poke()
	}
	return l
}

func (l *statusLog) status(evtID id.EventID) *bridgev2.MessageStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.statuses[evtID]
}

func (l *statusLog) row(evtID id.EventID) *database.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rows[evtID]
}

// wait waits for the status of evtID.
func (l *statusLog) wait(ctx context.Context, t *testing.T, evtID id.EventID) *bridgev2.MessageStatus {
	t.Helper()
	for {
		if st := l.status(evtID); st != nil {
			return st
		}
		select {
		case <-l.notify:
		case <-time.After(20 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("no status for %s", evtID)
		}
	}
}

var testEventSeq atomic.Int64

// matrixMessage makes a Matrix message event of content in the portal pk.
func matrixMessage(pk networkid.PortalKey, content *event.MessageEventContent) *bridgev2.MatrixMessage {
	evtID := id.EventID(fmt.Sprintf("$evt%d:example.com", testEventSeq.Add(1)))
	return &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Event: &event.Event{ID: evtID, RoomID: "!room:example.com", Sender: "@user:example.com", Type: event.EventMessage,
			Content: event.Content{Parsed: content}},
		Content: content,
		Portal:  testPortal(pk),
	}}
}

// sendFileAndWait sends a Matrix file message and waits for its status: nil
// on success, the failed status as an error otherwise.
func sendFileAndWait(ctx context.Context, t *testing.T, m *MSNClient, l *statusLog, pk networkid.PortalKey, content *event.MessageEventContent) error {
	t.Helper()
	msg := matrixMessage(pk, content)
	resp, err := m.HandleMatrixMessage(ctx, msg)
	if err != nil {
		return err
	}
	if !resp.Pending {
		t.Fatalf("a file send returned %+v, not a pending response", resp)
	}
	st := l.wait(ctx, t, msg.Event.ID)
	if st.Status != event.MessageStatusSuccess {
		return *st
	}
	if row := l.row(msg.Event.ID); row == nil || row.Room != pk || row.SenderID != m.selfUserID() || row.ID == "" {
		t.Errorf("file delivered without its message row: %+v", row)
	}
	return nil
}

// silentContact starts a scripted contact who never answers file offers.
func silentContact(ctx context.Context, t *testing.T, srv *msntest.Server, email string) *msntest.ScriptedPeer {
	t.Helper()
	if err := srv.AddAccount(email, "pw", "Silent"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, email, 1|2|8)
	_ = srv.AddContact(email, testEmail, 1|2|8)
	peer, err := srv.StartScriptedPeer(ctx, email, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(peer.Close)
	peer.IgnoreFileOffers()
	return peer
}

// TestMatrixFileNoAnswerDoesNotBlock: a file to a contact who never answers
// the offer does not hold up the room: HandleMatrixMessage returns a
// pending response at once, a text sent right after reaches the contact,
// and the file's status is a failure saying the contact did not answer in
// time once network.file_offer_timeout passed (3 s here), with no message
// row stored.
func TestMatrixFileNoAnswerDoesNotBlock(t *testing.T) {
	srv, c := testServer(t)
	c.Config.FileOfferTimeoutSeconds = 3
	data := make([]byte, 5000)
	_, _ = rand.Read(data)
	c.media = &mediaBot{media: map[id.ContentURIString][]byte{"mxc://x/bin": data}}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peer := silentContact(ctx, t, srv, "silent@example.com")
	m, states := testClient(t, c, testPassword)
	sends := watchSends(m)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	pk := makeDMPortalKey("silent@example.com", m.login.ID)

	file := matrixMessage(pk, &event.MessageEventContent{MsgType: event.MsgFile, Body: "report.pdf", URL: "mxc://x/bin"})
	resp, err := m.HandleMatrixMessage(ctx, file)
	if err != nil || resp == nil || !resp.Pending {
		t.Fatalf("file send returned %+v, %v; want a pending response", resp, err)
	}
	text := matrixMessage(pk, &event.MessageEventContent{MsgType: event.MsgText, Body: "did you get it?"})
	if resp, err := m.HandleMatrixMessage(ctx, text); err != nil || resp.Pending || resp.DB == nil {
		t.Fatalf("text after the file: %+v, %v", resp, err)
	}
	for !strings.Contains(strings.Join(peer.Texts(), "\n"), "did you get it?") {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatalf("the contact never got the text; got %q", peer.Texts())
		}
	}
	if st := sends.status(file.Event.ID); st != nil {
		t.Fatalf("the file's status came before the text after it arrived: %+v", st)
	}
	st := sends.wait(ctx, t, file.Event.ID)
	if peer.FileOffers() != 1 {
		t.Errorf("the contact got %d file offers, want 1", peer.FileOffers())
	}
	if st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "did not answer in time") ||
		!strings.Contains(st.Message, "3 seconds") || !st.SendNotice {
		t.Errorf("status %+v, want a failure saying the contact did not answer in time", st)
	}
	if row := sends.row(file.Event.ID); row != nil {
		t.Errorf("a file the contact never got was stored as sent: %+v", row)
	}
}

// TestMatrixFileCancelledByDisconnect: a transfer still waiting for the
// contact when the login disconnects (logout, shutdown) is cancelled:
// Disconnect does not wait for the offer timeout, and the message gets a
// retriable status saying the connection ended before the file was sent.
func TestMatrixFileCancelledByDisconnect(t *testing.T) {
	srv, c := testServer(t)
	c.Config.FileOfferTimeoutSeconds = 600
	c.media = &mediaBot{media: map[id.ContentURIString][]byte{"mxc://x/bin": []byte("some bytes")}}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	peer := silentContact(ctx, t, srv, "silent@example.com")
	m, states := testClient(t, c, testPassword)
	sends := watchSends(m)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	file := matrixMessage(makeDMPortalKey("silent@example.com", m.login.ID), &event.MessageEventContent{MsgType: event.MsgFile, Body: "a.txt", URL: "mxc://x/bin"})
	if resp, err := m.HandleMatrixMessage(ctx, file); err != nil || !resp.Pending {
		t.Fatalf("file send: %+v, %v", resp, err)
	}
	for peer.FileOffers() == 0 {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("the offer never reached the contact")
		}
	}
	done := make(chan struct{})
	go func() {
		m.Disconnect()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("Disconnect waited for the pending transfer")
	}
	// The status is sent before the background work ends, so it is there
	// once Disconnect returned.
	st := sends.status(file.Event.ID)
	if st == nil || st.Status != event.MessageStatusRetriable || !strings.Contains(st.Message, "connection to MSN ended") {
		t.Fatalf("status after disconnect: %+v", st)
	}
}

// TestMatrixFileBadInput: what a Matrix client may send that MSN cannot
// take as is. A file exactly at network.max_file_size goes through and
// one byte over fails saying so (the event announcing no size: the
// downloaded size counts); a size announced smaller than the file does
// not cut it; a hostile name arrives cleaned (no path, no CR/LF or other
// control characters, bounded length); an empty file fails with a
// reason, never silently.
func TestMatrixFileBadInput(t *testing.T) {
	srv, c := testServer(t)
	const limit = 20_000
	c.Config.MaxFileSize = limit
	if err := srv.AddAccount("friend@example.com", "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	_ = srv.AddContact(testEmail, "friend@example.com", 1|2|8)
	_ = srv.AddContact("friend@example.com", testEmail, 1|2|8)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	box := &fileInbox{notify: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig("friend@example.com", "pw", msnp.NewGUID()), box.handle)
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	at, over := make([]byte, limit), make([]byte, limit+1)
	_, _ = rand.Read(at)
	c.media = &mediaBot{media: map[id.ContentURIString][]byte{
		"mxc://x/at": at, "mxc://x/over": over, "mxc://x/small": []byte("hello"), "mxc://x/empty": {},
	}}
	m, states := testClient(t, c, testPassword)
	sends := watchSends(m)
	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	pk := makeDMPortalKey("friend@example.com", m.login.ID)
	received := func(n int) *msnclient.FileReceived {
		t.Helper()
		for {
			box.mu.Lock()
			if len(box.files) >= n {
				f := box.files[n-1]
				box.mu.Unlock()
				return f
			}
			box.mu.Unlock()
			select {
			case <-box.notify:
			case <-ctx.Done():
				t.Fatalf("the contact has not got file %d", n)
			}
		}
	}
	readAll := func(f *msnclient.FileReceived) []byte {
		defer f.File.Close()
		b, err := io.ReadAll(f.File)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}

	if err := sendFileAndWait(ctx, t, m, sends, pk, &event.MessageEventContent{MsgType: event.MsgFile, Body: "at.bin", URL: "mxc://x/at"}); err != nil {
		t.Fatalf("file exactly at the limit: %v", err)
	}
	if f := received(1); f.Name != "at.bin" || !bytes.Equal(readAll(f), at) {
		t.Errorf("file at the limit arrived as %q", f.Name)
	}
	err := sendFileAndWait(ctx, t, m, sends, pk, &event.MessageEventContent{MsgType: event.MsgFile, Body: "over.bin", URL: "mxc://x/over"})
	var st bridgev2.MessageStatus
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "too large for MSN (20001 bytes, the limit is 20000 bytes)") {
		t.Errorf("file one byte over the limit: %v (%+v)", err, st)
	}

	hostile := "../../etc/\r\nInvitation-Command: CANCEL\x07" + strings.Repeat("é", 300) + ".txt"
	if err := sendFileAndWait(ctx, t, m, sends, pk, &event.MessageEventContent{MsgType: event.MsgFile, Body: hostile, URL: "mxc://x/small",
		Info: &event.FileInfo{Size: 2}}); err != nil {
		t.Fatalf("hostile name, size announced too small: %v", err)
	}
	f := received(2)
	if data := readAll(f); string(data) != "hello" {
		t.Errorf("a size announced too small cut the file to %q", data)
	}
	if strings.ContainsAny(f.Name, "/\\\r\n\x07") || len(f.Name) > 240 || !strings.HasPrefix(f.Name, "Invitation-Command: CANCELé") || !strings.HasSuffix(f.Name, ".txt") {
		t.Errorf("hostile name arrived as %q", f.Name)
	}

	err = sendFileAndWait(ctx, t, m, sends, pk, &event.MessageEventContent{MsgType: event.MsgFile, Body: "empty.txt", URL: "mxc://x/empty"})
	if !errors.As(err, &st) || st.Status != event.MessageStatusFail || !strings.Contains(st.Message, "The file is empty") {
		t.Errorf("empty file: %v (%+v)", err, st)
	}
	box.mu.Lock()
	n := len(box.files)
	box.mu.Unlock()
	if n != 2 {
		t.Errorf("the contact got %d files, want 2", n)
	}
}

// TestFileSendFailureText: each way a Matrix file can fail to reach MSN
// gives the user a status saying which, in words.
func TestFileSendFailureText(t *testing.T) {
	m := &MSNClient{connector: &Connector{}}
	m.connector.Config.FileOfferTimeoutSeconds = 90
	for _, c := range []struct {
		err    error
		status event.MessageStatus
		want   string
	}{
		{&contactFileError{contact: "a@x.com", err: fmt.Errorf("x: %w", msnclient.ErrFileDeclined)}, event.MessageStatusFail, "The contact declined the file."},
		{&contactFileError{contact: "a@x.com", group: true, err: msnclient.ErrFileDeclined}, event.MessageStatusFail, "a@x.com declined the file."},
		{msnclient.ErrFileNoAnswer, event.MessageStatusFail, "The contact did not answer in time: the file offer expired after 90 seconds"},
		{msnclient.ErrFileStalled, event.MessageStatusFail, "The transfer stalled: the contact accepted the file, then their Messenger stopped taking it."},
		{msnclient.ErrFileCancelled, event.MessageStatusFail, "The contact cancelled the transfer."},
		{fmt.Errorf("x: %w", msnclient.ErrContactOffline), event.MessageStatusFail, "is offline: MSN files can only be sent to contacts who are online"},
		{msnclient.ErrFileEmpty, event.MessageStatusFail, "The file is empty"},
		{fmt.Errorf("%w: %w", errSessionEnded, msnclient.ErrFileCancelled), event.MessageStatusRetriable, "The connection to MSN ended"},
	} {
		st := bridgev2.WrapErrorInStatus(m.fileSendFailure(c.err))
		if st.Status != c.status || !strings.Contains(st.Message, c.want) {
			t.Errorf("%v: %s %q, want %s %q", c.err, st.Status, st.Message, c.status, c.want)
		}
	}
	if got := formatDuration(2 * time.Minute); got != "2 minutes" {
		t.Errorf("2 minutes said as %q", got)
	}
}
