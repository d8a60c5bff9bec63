package msnclient_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
	"github.com/mautrix-msn/mautrix-msn/msnclient/rsi"
)

// oimVersions are the dialects the offline message round trips run in.
var oimVersions = []int{11, 13, 15, 18}

// oimServer has alice and bob as mutual contacts.
func oimServer(t *testing.T, opts msntest.Options) *msntest.Server {
	t.Helper()
	srv := startServer(t, opts)
	addAccount(t, srv, "alice@example.com", "Alice")
	addAccount(t, srv, "bob@example.com", "Bób ✓")
	addContact(t, srv, "alice@example.com", "bob@example.com", 1|2)
	addContact(t, srv, "bob@example.com", "alice@example.com", 1|2)
	return srv
}

// TestOfflineMessagesAtLogin: messages stored while alice was away are
// listed at login, fetched with their original time and sender, and gone
// from the server once deleted.
func TestOfflineMessagesAtLogin(t *testing.T) {
	for _, v := range oimVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := oimServer(t, msntest.Options{})
			sent1 := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)
			sent2 := sent1.Add(time.Minute)
			id2, _ := srv.StoreOfflineMessage("bob@example.com", "alice@example.com", "second 🙂", sent2)
			id1, _ := srv.StoreOfflineMessage("bob@example.com", "alice@example.com", "first\nline two", sent1)
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			evt := waitFrom(t, alice.rec, 0, "initial offline messages", func(e *msnclient.OfflineMessagesWaiting) bool { return e.Initial })
			if !evt.Complete || len(evt.Messages) != 2 {
				t.Fatalf("initial list = %+v, want both messages", evt)
			}
			if evt.Messages[0].ID != id1 || evt.Messages[1].ID != id2 {
				t.Errorf("list order %s, %s; want oldest first %s, %s", evt.Messages[0].ID, evt.Messages[1].ID, id1, id2)
			}
			if evt.Messages[0].From != "bob@example.com" || evt.Messages[0].FromName != "Bób ✓" || !evt.Messages[0].Time.Equal(sent1) {
				t.Errorf("first entry = %+v", evt.Messages[0])
			}
			msg, err := alice.FetchOfflineMessage(ctxT(t), id1)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Text != "first\nline two" || msg.From != "bob@example.com" || msg.FromName != "Bób ✓" || !msg.Time.Equal(sent1) {
				t.Errorf("fetched %+v", msg)
			}
			if len(srv.OfflineMessages("alice@example.com")) != 2 {
				t.Fatal("fetching removed the message from the server")
			}
			if err := alice.DeleteOfflineMessages(ctxT(t), []string{id1, id2}); err != nil {
				t.Fatal(err)
			}
			if left := srv.OfflineMessages("alice@example.com"); len(left) != 0 {
				t.Errorf("%d messages left after delete", len(left))
			}
		})
	}
}

// TestOfflineMessageWhileOnline: a message stored while alice is online is
// announced at once.
func TestOfflineMessageWhileOnline(t *testing.T) {
	for _, v := range oimVersions {
		t.Run(fmt.Sprintf("MSNP%d", v), func(t *testing.T) {
			srv := oimServer(t, msntest.Options{})
			alice := nsConnect(t, config(srv, "alice@example.com", v))
			mark := alice.rec.mark()
			id, err := srv.StoreOfflineMessage("bob@example.com", "alice@example.com", "hi", time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			evt := waitFrom(t, alice.rec, mark, "live offline message", func(e *msnclient.OfflineMessagesWaiting) bool { return !e.Initial })
			if len(evt.Messages) != 1 || evt.Messages[0].ID != id || evt.Messages[0].FromName != "Bób ✓" {
				t.Fatalf("live notification = %+v", evt)
			}
		})
	}
}

// TestOfflineMessagesTooMany: above 25 the NS says "too-large" and the list
// comes from GetMetadata.
func TestOfflineMessagesTooMany(t *testing.T) {
	srv := oimServer(t, msntest.Options{})
	base := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	for i := 0; i < 30; i++ {
		if _, err := srv.StoreOfflineMessage("bob@example.com", "alice@example.com", fmt.Sprint("n", i), base.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	alice := nsConnect(t, config(srv, "alice@example.com", 15))
	evt := waitFrom(t, alice.rec, 0, "initial offline messages", func(e *msnclient.OfflineMessagesWaiting) bool { return e.Initial })
	if evt.Complete || len(evt.Messages) != 0 {
		t.Fatalf("initial list of 30 = %+v, want too-large", evt)
	}
	list, err := alice.OfflineMessages(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 30 || !list[0].Time.Equal(base) {
		t.Fatalf("GetMetadata listed %d, first %+v", len(list), list[0])
	}
}

// TestSendOfflineMessage: a message to an offline contact is stored on
// MSNP13+ (OIM store, lock key challenge answered; UUM on MSNP18 without a
// store) and read by the contact when she signs in; MSNP11 cannot send.
func TestSendOfflineMessage(t *testing.T) {
	long := strings.Repeat("long offline text ", 150) // > 1 KiB: split
	cases := []struct {
		name    string
		version int
		noStore bool
		strict  bool
		wantErr error
	}{
		{"MSNP11", 11, false, false, msnclient.ErrOfflineMessagesUnsupported},
		{"MSNP13", 13, false, false, nil},
		{"MSNP15", 15, false, true, nil},
		{"MSNP18", 18, false, false, nil},
		{"MSNP18-UUM", 18, true, false, nil},
		{"MSNP15-NoStore", 15, true, false, msnclient.ErrNoOfflineService},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := oimServer(t, msntest.Options{Microsoft: tc.strict})
			cfg := config(srv, "alice@example.com", tc.version)
			if tc.noStore {
				cfg.OIMURL = ""
			}
			alice := nsConnect(t, cfg)
			if got := alice.CanSendOfflineMessages(); got != (tc.wantErr == nil) {
				t.Errorf("CanSendOfflineMessages = %v", got)
			}
			err := alice.SendOfflineMessage(ctxT(t), "bob@example.com", "are you there?")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("send = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := alice.SendOfflineMessage(ctxT(t), "bob@example.com", long); err != nil {
				t.Fatal(err)
			}
			var got []msntest.OfflineMessage
			deadline := time.Now().Add(testTimeout)
			for len(got) < 3 && time.Now().Before(deadline) { // UUM is not answered: poll
				got = srv.OfflineMessages("bob@example.com")
				time.Sleep(20 * time.Millisecond)
			}
			var texts []string
			for _, m := range got {
				if m.From != "alice@example.com" {
					t.Errorf("stored from %s", m.From)
				}
				texts = append(texts, m.Text)
			}
			if len(texts) < 3 || texts[0] != "are you there?" || strings.Join(texts[1:], "") != long {
				t.Fatalf("stored %d messages %q", len(texts), texts)
			}
			// bob signs in and reads them in order.
			bob := nsConnect(t, config(srv, "bob@example.com", 18))
			evt := waitFrom(t, bob.rec, 0, "offline messages", func(e *msnclient.OfflineMessagesWaiting) bool { return e.Initial })
			if len(evt.Messages) != len(texts) {
				t.Fatalf("bob listed %d messages, want %d", len(evt.Messages), len(texts))
			}
			m, err := bob.FetchOfflineMessage(ctxT(t), evt.Messages[0].ID)
			if err != nil || m.Text != "are you there?" || m.From != "alice@example.com" {
				t.Fatalf("bob read %+v, %v", m, err)
			}
		})
	}
}

// TestOfflineMessageBadInput: a server error or an undecodable message is
// an error and nothing is deleted.
func TestOfflineMessageBadInput(t *testing.T) {
	srv := oimServer(t, msntest.Options{})
	id, _ := srv.StoreOfflineMessage("bob@example.com", "alice@example.com", "kept", time.Time{})
	alice := nsConnect(t, config(srv, "alice@example.com", 18))
	srv.FailNextSOAP("GetMessage", "Fault.validation")
	if _, err := alice.FetchOfflineMessage(ctxT(t), id); err == nil {
		t.Fatal("fetch through a SOAP fault succeeded")
	}
	if _, err := alice.FetchOfflineMessage(ctxT(t), "not a valid id"); err == nil {
		t.Fatal("fetch of an invalid id succeeded")
	}
	var fault *rsi.Fault
	if err := alice.DeleteOfflineMessages(ctxT(t), []string{id, "00000000-0000-0000-0000-000000000001"}); !errors.As(err, &fault) {
		t.Fatalf("delete with an unknown id = %v, want a fault", err)
	}
	if len(srv.OfflineMessages("alice@example.com")) != 1 {
		t.Fatal("a failed delete removed the message")
	}
	if err := alice.SendOfflineMessage(ctxT(t), "nobody@example.com", "x"); err == nil {
		t.Fatal("offline message to an unknown account succeeded")
	}
	if err := alice.SendOfflineMessage(ctxT(t), "bob@example.com\r\nOUT", "x"); err == nil {
		t.Fatal("offline message to an address with CR/LF succeeded")
	}
}

// TestOfflineLockKeyKeptForSession: the lock key answered for the OIM
// store is reused for the session's next offline messages, so only the
// first message pays the challenge round trip (the server requires the
// key, as Microsoft's did).
func TestOfflineLockKeyKeptForSession(t *testing.T) {
	srv := oimServer(t, msntest.Options{Microsoft: true})
	alice := nsConnect(t, config(srv, "alice@example.com", 15))
	for i := range 3 {
		if err := alice.SendOfflineMessage(ctxT(t), "bob@example.com", fmt.Sprintf("message %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// 3 stored messages and one refused request carrying the challenge.
	if n := srv.OfflineServiceCalls("Store"); n != 4 {
		t.Fatalf("%d store requests for 3 messages, want 4 (one challenge)", n)
	}
}

// TestOfflinePartlyStored: when a later part of a long offline message
// fails, the error says how many parts the server already has, so the
// bridge does not report it as a plain failure the user would resend
// (which would deliver those parts twice).
func TestOfflinePartlyStored(t *testing.T) {
	srv := oimServer(t, msntest.Options{})
	alice := nsConnect(t, config(srv, "alice@example.com", 13))
	// A first message answers the lock key challenge (2 requests), so the
	// parts of the next one are one request each.
	if err := alice.SendOfflineMessage(ctxT(t), "bob@example.com", "hi"); err != nil {
		t.Fatal(err)
	}
	// Count from here: how many requests the first message took (its
	// challenge may take more than one round) must not shift the parts.
	base := srv.OfflineServiceCalls("Store")
	release := srv.HoldOfflineService("Store")
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	go func() {
		done <- alice.SendOfflineMessage(ctx, "bob@example.com", strings.Repeat("long offline text ", 150))
	}()
	waitCalls := func(n int) {
		deadline := time.Now().Add(testTimeout)
		for srv.OfflineServiceCalls("Store") < n || srv.HeldRequests("Store") == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no store request")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitCalls(base + 1)
	// The second part waits: held before the first is let go, or it could
	// pass before the hold is in place.
	releaseSecond := srv.HoldOfflineService("Store")
	defer releaseSecond()
	release() // the first part goes through
	waitCalls(base + 2)
	cancel() // and fails
	err := <-done
	var partly *msnclient.PartlyStoredError
	if !errors.As(err, &partly) || partly.Stored != 1 || partly.Total < 2 {
		t.Fatalf("send = %v, want 1 part stored of several", err)
	}
	if got := srv.OfflineMessages("bob@example.com"); len(got) != 2 {
		t.Fatalf("server holds %d messages, want 2 (hi and one part)", len(got))
	}
}
