package bridge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// A contact back online without a personal message gets an empty
// status_msg, which clears the old one ("Away", a stale personal message)
// on the homeserver; omitting it would keep the old one.
func TestPresenceAlwaysSendsStatusMessage(t *testing.T) {
	bodies := make(chan map[string]any, 1)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		var body map[string]any
		_ = json.Unmarshal(data, &body)
		bodies <- body
		_, _ = w.Write([]byte("{}"))
	}))
	defer hs.Close()
	cli, err := mautrix.NewClient(hs.URL, "@msn_bob:hs", "token")
	if err != nil {
		t.Fatal(err)
	}
	presence, msg := matrixPresence(contactPresence{Status: msnclient.StatusOnline})
	if err := putPresence(context.Background(), cli, presence, msg); err != nil {
		t.Fatal(err)
	}
	body := <-bodies
	got, ok := body["status_msg"]
	if !ok || got != "" {
		t.Errorf("presence body %v: want status_msg present and empty", body)
	}
	if body["presence"] != string(event.PresenceOnline) {
		t.Errorf("presence body %v: want online", body)
	}
}
