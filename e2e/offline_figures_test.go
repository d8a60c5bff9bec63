package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
)

// testOfflineFigures measures how long the bridge takes, from its start,
// to bridge 100 offline messages from bob waiting at sign-in and delete
// them on the server (it deletes only what Matrix accepted), and how many
// RSI requests that takes; median of 3. The room's history is then read
// back with /messages (a /sync burst of 100 events is cut short by the
// homeserver): every message once, oldest first, with its original time.
func (w *world) testOfflineFigures(t *testing.T) {
	const n, runs = 100, 3
	var took, signIn []time.Duration
	var requests []int
	calls := func() int {
		return w.srv.OfflineServiceCalls("GetMetadata") + w.srv.OfflineServiceCalls("GetMessage") + w.srv.OfflineServiceCalls("DeleteMessages")
	}
	for run := range runs {
		w.stopBridge(t)
		base := time.Now().Add(-time.Hour).Truncate(time.Second)
		for i := range n {
			text := fmt.Sprintf("offline figure run %d message %03d", run, i)
			if _, err := w.srv.StoreOfflineMessage(bobEmail, meEmail, text, base.Add(time.Duration(i)*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		before := calls()
		start := time.Now()
		ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
		if err := w.br.Start(ctx); err != nil {
			cancel()
			t.Fatalf("start bridge: %v", err)
		}
		if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
			cancel()
			t.Fatal(err)
		}
		online := time.Since(start)
		for len(w.srv.OfflineMessages(meEmail)) > 0 && ctx.Err() == nil {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		if left := len(w.srv.OfflineMessages(meEmail)); left != 0 {
			t.Fatalf("run %d: %d offline messages still on the server", run, left)
		}
		took = append(took, time.Since(start))
		signIn = append(signIn, online)
		requests = append(requests, calls()-before)
		w.checkHistory(t, run, n, base)
	}
	slices.Sort(took)
	slices.Sort(signIn)
	recordFigure(t, "offline_100_at_login_median", took[runs/2].Round(time.Millisecond).String())
	recordFigure(t, "offline_100_at_login_runs", fmt.Sprint(took))
	recordFigure(t, "offline_100_sign_in_median", signIn[runs/2].Round(time.Millisecond).String())
	recordFigure(t, "offline_100_rsi_requests", fmt.Sprint(requests))
}

// checkHistory reads bob's room back and checks that the run's n messages
// are there once each, oldest first, with their original times. The
// homeserver may list an event a moment after it accepted it: the history
// is read again until it is complete or msgTimeout passes.
func (w *world) checkHistory(t *testing.T, run, n int, base time.Time) {
	t.Helper()
	var got []*event.Event
	err := eventually(w.ctx, msgTimeout, func() error {
		var err error
		got, err = w.runHistory(run)
		if err == nil && len(got) < n {
			err = fmt.Errorf("%d of %d messages in the room", len(got), n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("run %d: %v", run, err)
	}
	if len(got) != n {
		t.Fatalf("run %d: %d messages in the room, want %d", run, len(got), n)
	}
	prefix := fmt.Sprintf("offline figure run %d message ", run)
	for i, evt := range got {
		want := fmt.Sprintf("%s%03d", prefix, i)
		if body := evt.Content.AsMessage().Body; body != want {
			t.Fatalf("run %d: message %d is %q, want %q (oldest first, once each)", run, i, body, want)
		}
		if ts := evt.Timestamp; ts != base.Add(time.Duration(i)*time.Second).UnixMilli() {
			t.Fatalf("run %d: message %d has time %s, want its original time", run, i, time.UnixMilli(ts).UTC())
		}
	}
}

// runHistory returns the run's messages in bob's room, oldest first.
func (w *world) runHistory(run int) ([]*event.Event, error) {
	prefix := fmt.Sprintf("offline figure run %d message ", run)
	var got []*event.Event
	from := ""
	for pages := 0; pages < 50; pages++ {
		resp, err := w.user.Messages(w.ctx, w.bobRoom, from, "", mautrix.DirectionBackward, nil, 100)
		if err != nil {
			return nil, fmt.Errorf("read history: %w", err)
		}
		for _, evt := range resp.Chunk {
			if evt.Type == event.EventMessage {
				_ = evt.Content.ParseRaw(evt.Type)
				if strings.HasPrefix(evt.Content.AsMessage().Body, prefix) {
					got = append(got, evt)
				}
			}
		}
		if len(resp.Chunk) == 0 || resp.End == "" || resp.End == from {
			break
		}
		from = resp.End
	}
	slices.Reverse(got)
	return got, nil
}
