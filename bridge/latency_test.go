package bridge

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func latencyCount(t *testing.T, m *Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	text := scrape(t, srv.URL)
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, `mautrix_msn_bridge_latency_seconds_count{direction="msn_to_matrix"}`) {
			return strings.Fields(l)[1]
		}
	}
	return "0"
}

// The MSN -> Matrix latency is recorded when the homeserver send request
// goes out (the definition), not when the homeserver answers: the
// histogram already holds the sample while the request is in flight. Only
// the first send of a message counts, and other requests (joins, profile
// updates) are not sends.
func TestLatencyObservedWhenSendIssued(t *testing.T) {
	m := NewMetrics(nil)
	var countInFlight []string
	hc := &http.Client{Transport: roundTripFunc(func(req *http.Request) (*http.Response, error) {
		countInFlight = append(countInFlight, latencyCount(t, m))
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
	})}
	observeSendRequests(hc)
	observeSendRequests(hc) // wrapping twice does not time twice
	msg := &msnclient.MessageReceived{From: "c@x.com", Time: time.Now().Add(-time.Millisecond)}
	evt := stampMessage(m, msg.Time, nil)
	mut, ok := evt.(bridgev2.RemoteEventWithContextMutation)
	if !ok {
		t.Fatal("the queued message does not carry its stamp into bridgev2's context")
	}
	ctx := mut.MutateContext(context.Background())
	do := func(method, path string) {
		req, err := http.NewRequestWithContext(ctx, method, "http://127.0.0.1:1"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	do(http.MethodPost, "/_matrix/client/v3/join/!r:localhost")
	do(http.MethodPut, "/_matrix/client/v3/rooms/!r:localhost/send/m.room.message/txn1")
	do(http.MethodPut, "/_matrix/client/v3/rooms/!r:localhost/send/m.room.message/txn1") // a retry
	want := []string{"0", "1", "1"}
	if strings.Join(countInFlight, ",") != strings.Join(want, ",") {
		t.Errorf("latency samples while each request was in flight: %v, want %v", countInFlight, want)
	}
	// Without a stamp (a message of another kind, or metrics off) nothing
	// is recorded.
	req, _ := http.NewRequest(http.MethodPut, "http://127.0.0.1:1/_matrix/client/v3/rooms/!r:localhost/send/m.room.message/t2", nil)
	if resp, err := hc.Do(req); err == nil {
		_ = resp.Body.Close()
	}
	if got := latencyCount(t, m); got != "1" {
		t.Errorf("after an unstamped send: %s samples, want 1", got)
	}
}

// handleMessage stamps a message with the time msnclient read it off the
// switchboard, so the latency includes the event queues before bridgev2.
func TestMessageStampedWithReadTime(t *testing.T) {
	m := testLoginClient(t)
	m.connector.metrics = NewMetrics(nil)
	queued := make(chan bridgev2.RemoteEvent, 1)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
	read := time.Now().Add(-time.Second)
	m.handleEvent(context.Background(), nil, &msnclient.MessageReceived{
		ConversationEvent: msnclient.ConversationEvent{Participants: []string{"c1@x.com"}},
		From:              "c1@x.com",
		Message:           msnclient.TextMessage{Text: "hello"},
		Time:              read,
	})
	evt := <-queued
	mut, ok := evt.(bridgev2.RemoteEventWithContextMutation)
	if !ok {
		t.Fatalf("queued %T without a stamp", evt)
	}
	s, _ := mut.MutateContext(context.Background()).Value(sendStampKey{}).(*sendStamp)
	if s == nil || !s.received.Equal(read) {
		t.Fatalf("stamp %+v, want the read time %s", s, read)
	}
	if _, ok := evt.(bridgev2.RemoteMessage); !ok {
		t.Error("the stamped event is no longer a bridgev2.RemoteMessage")
	}
	if _, ok := evt.(bridgev2.RemoteEventWithTimestamp); !ok {
		t.Error("the stamped event lost its timestamp")
	}
}
