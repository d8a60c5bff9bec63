package bridge

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// matrixSink stands in for the portal queue: it records what was
// delivered and accepts it unless refuse says no.
type matrixSink struct {
	mu        sync.Mutex
	delivered []*msnclient.OfflineMessage
	refuse    func(*msnclient.OfflineMessage) bool
	silent    bool // never answers (the event was dropped before PostHandle)
}

func (s *matrixSink) deliver(_ context.Context, msg *msnclient.OfflineMessage) <-chan bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	ch := make(chan bool, 1)
	if s.silent {
		return ch
	}
	ok := s.refuse == nil || !s.refuse(msg)
	if ok {
		s.delivered = append(s.delivered, msg)
	}
	ch <- ok
	return ch
}

func (s *matrixSink) texts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, m := range s.delivered {
		out = append(out, m.Text)
	}
	return out
}

// offlineWorld is a fake server where bob and carol wrote to me while I
// was away, and a receiver writing to a real database.
type offlineWorld struct {
	srv  *msntest.Server
	db   *database.Database
	sink *matrixSink
	recv *offlineReceiver
}

func newOfflineWorld(t *testing.T) *offlineWorld {
	t.Helper()
	srv := msntest.StartT(t, msntest.Options{})
	for _, a := range []string{testEmail, "bob@example.com", "carol@example.com"} {
		if err := srv.AddAccount(a, testPassword, strings.Split(a, "@")[0]); err != nil {
			t.Fatal(err)
		}
	}
	w := &offlineWorld{srv: srv, db: testDB(t), sink: &matrixSink{}}
	w.recv = &offlineReceiver{log: zerolog.Nop(), loginID: testEmail, ledger: w.db.Offline, deliver: w.sink.deliver, timeout: testTimeout}
	return w
}

// signIn connects me and returns the client and the initial notification.
func (w *offlineWorld) signIn(t *testing.T, version int) (*msnclient.Client, *msnclient.OfflineMessagesWaiting) {
	t.Helper()
	got := make(chan *msnclient.OfflineMessagesWaiting, 10)
	cfg := msnclient.Config{Email: testEmail, Password: testPassword, Server: w.srv.NSAddr(), Versions: []int{version}, RequestTimeout: testTimeout, AllowPlainHTTP: true}
	cfg.UseEscargotURLs(w.srv.HTTPURL())
	cl := msnclient.NewClient(cfg, func(evt any) {
		if e, ok := evt.(*msnclient.OfflineMessagesWaiting); ok {
			got <- e
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	select {
	case evt := <-got:
		return cl, evt
	case <-time.After(testTimeout):
		t.Fatal("no offline message notification at sign-in")
		return nil, nil
	}
}

func (w *offlineWorld) store(t *testing.T, from, text string, at time.Time) string {
	t.Helper()
	id, err := w.srv.StoreOfflineMessage(from, testEmail, text, at)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestOfflineReceiverBridgesOldestFirst: everything waiting is bridged once,
// oldest first with its original time, then deleted on the server.
func TestOfflineReceiverBridgesOldestFirst(t *testing.T) {
	for _, v := range []int{11, 13, 15, 18} {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			w := newOfflineWorld(t)
			base := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
			w.store(t, "carol@example.com", "third", base.Add(2*time.Minute))
			w.store(t, "bob@example.com", "first", base)
			w.store(t, "bob@example.com", "second", base.Add(time.Minute))
			cl, evt := w.signIn(t, v)
			res, err := w.recv.run(context.Background(), cl, evt)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(w.sink.texts(), ","); got != "first,second,third" {
				t.Fatalf("bridged %q, want oldest first", got)
			}
			first := w.sink.delivered[0]
			if !first.Time.Equal(base) || first.From != "bob@example.com" || first.FromName != "bob" {
				t.Errorf("first message %+v, want bob's with its original time", first)
			}
			if left := w.srv.OfflineMessages(testEmail); len(left) != 0 {
				t.Errorf("%d messages left on the server", len(left))
			}
			if n, _ := w.db.Offline.Count(context.Background(), testEmail); n != 0 {
				t.Errorf("%d records left after the server deleted them", n)
			}
			// 3 GetMessage + 1 DeleteMessages; the list came with the notification.
			if res.Bridged != 3 || res.Deleted != 3 || res.Requests != 4 {
				t.Errorf("run = %+v", res)
			}
			if w.srv.OfflineServiceCalls("GetMetadata") != 0 {
				t.Error("GetMetadata called although the notification listed everything")
			}
		})
	}
}

// TestOfflineReceiverCrashBeforeDelete: the bridge dies after Matrix
// accepted a message but before the server deleted it; after the restart
// the message is deleted without being bridged again.
func TestOfflineReceiverCrashBeforeDelete(t *testing.T) {
	w := newOfflineWorld(t)
	w.store(t, "bob@example.com", "only once", time.Now().Add(-time.Hour))
	cl, evt := w.signIn(t, 18)
	w.srv.FailNextSOAP("DeleteMessages", "Fault.validation") // the "crash": deletion never happened
	res, err := w.recv.run(context.Background(), cl, evt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bridged != 1 || res.Deleted != 0 || len(w.srv.OfflineMessages(testEmail)) != 1 {
		t.Fatalf("first run %+v; want bridged, not deleted", res)
	}
	_ = cl.Close()

	// Restart: a new receiver on the same database.
	w.recv = &offlineReceiver{log: zerolog.Nop(), loginID: testEmail, ledger: w.db.Offline, deliver: w.sink.deliver, timeout: testTimeout}
	cl2, evt2 := w.signIn(t, 18)
	res, err = w.recv.run(context.Background(), cl2, evt2)
	if err != nil {
		t.Fatal(err)
	}
	if got := w.sink.texts(); len(got) != 1 {
		t.Fatalf("bridged %q; the message was duplicated", got)
	}
	if res.AlreadyBridged != 1 || res.Deleted != 1 || len(w.srv.OfflineMessages(testEmail)) != 0 {
		t.Fatalf("second run %+v", res)
	}
	if w.srv.OfflineServiceCalls("GetMessage") != 1 {
		t.Errorf("GetMessage called %d times; an already bridged message need not be fetched again", w.srv.OfflineServiceCalls("GetMessage"))
	}
}

// TestOfflineReceiverMatrixRefuses: a message Matrix did not accept stays
// on the server and is not recorded; the others go on.
func TestOfflineReceiverMatrixRefuses(t *testing.T) {
	w := newOfflineWorld(t)
	w.store(t, "bob@example.com", "refused", time.Now().Add(-2*time.Minute))
	w.store(t, "bob@example.com", "accepted", time.Now().Add(-time.Minute))
	w.sink.refuse = func(m *msnclient.OfflineMessage) bool { return m.Text == "refused" }
	cl, evt := w.signIn(t, 15)
	res, err := w.recv.run(context.Background(), cl, evt)
	if err != nil {
		t.Fatal(err)
	}
	left := w.srv.OfflineMessages(testEmail)
	if res.Bridged != 1 || res.Failed != 1 || len(left) != 1 || left[0].Text != "refused" {
		t.Fatalf("run %+v, left %+v", res, left)
	}
	if ok, _ := w.db.Offline.IsBridged(context.Background(), testEmail, left[0].ID); ok {
		t.Error("a refused message was recorded as bridged")
	}
}

// TestOfflineReceiverTooMany: more than 25 waiting: the list comes from
// GetMetadata, and all are bridged with one delete.
func TestOfflineReceiverTooMany(t *testing.T) {
	w := newOfflineWorld(t)
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := 0; i < 30; i++ {
		w.store(t, "bob@example.com", fmt.Sprint("m", i), base.Add(time.Duration(i)*time.Second))
	}
	cl, evt := w.signIn(t, 13)
	res, err := w.recv.run(context.Background(), cl, evt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Bridged != 30 || res.Requests != 32 || w.srv.OfflineServiceCalls("GetMetadata") != 1 {
		t.Fatalf("run %+v", res)
	}
	if got := w.sink.texts(); got[0] != "m0" || got[29] != "m29" {
		t.Errorf("order %v", got)
	}
}

// brokenSource serves one undecodable message among good ones.
type brokenSource struct {
	*msnclient.Client
	bad string
}

func (b brokenSource) FetchOfflineMessage(ctx context.Context, id string) (*msnclient.OfflineMessage, error) {
	if id == b.bad {
		return nil, errors.New("rsi: undecodable offline message: unknown charset \"x-klingon\"")
	}
	return b.Client.FetchOfflineMessage(ctx, id)
}

// TestOfflineReceiverBadMessage: a message that cannot be read is logged
// and kept on the server; the others are bridged and deleted.
func TestOfflineReceiverBadMessage(t *testing.T) {
	w := newOfflineWorld(t)
	bad := w.store(t, "bob@example.com", "unreadable", time.Now().Add(-2*time.Minute))
	w.store(t, "bob@example.com", "fine", time.Now().Add(-time.Minute))
	cl, evt := w.signIn(t, 18)
	res, err := w.recv.run(context.Background(), brokenSource{Client: cl, bad: bad}, evt)
	if err != nil {
		t.Fatal(err)
	}
	left := w.srv.OfflineMessages(testEmail)
	if res.Bridged != 1 || res.Failed != 1 || len(left) != 1 || left[0].ID != bad {
		t.Fatalf("run %+v, left %+v", res, left)
	}
}

// TestOfflineReceiverMatrixSilent: when Matrix never confirms (the event was
// dropped before it was handled), the run ends after the timeout and the
// message stays on the server.
func TestOfflineReceiverMatrixSilent(t *testing.T) {
	w := newOfflineWorld(t)
	w.store(t, "bob@example.com", "lost in the queue", time.Now().Add(-time.Minute))
	w.sink.silent = true
	w.recv.timeout = 200 * time.Millisecond
	cl, evt := w.signIn(t, 18)
	res, err := w.recv.run(context.Background(), cl, evt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 1 || res.Deleted != 0 || len(w.srv.OfflineMessages(testEmail)) != 1 {
		t.Fatalf("run %+v; want the message kept", res)
	}
}
