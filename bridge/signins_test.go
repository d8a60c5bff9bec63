package bridge

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"maunium.net/go/mautrix/bridgev2/status"
)

// The connect loop counts each sign-in it starts, so the load harness can
// tell the sign-ins the bridge started per second (capped by login_rate)
// from the Passport requests the server saw.
func TestSignInsStartedCounted(t *testing.T) {
	_, c := testServer(t)
	c.metrics = NewMetrics(nil)
	srv := httptest.NewServer(c.metrics.Handler())
	defer srv.Close()
	m, states := testClient(t, c, testPassword)
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	wantLine(t, scrape(t, srv.URL), `mautrix_msn_sign_ins_started_total 1`)
}

// Connected again, the login drops bridgev2's pending transient-disconnect
// notice (a goroutine and a 3-minute timer per login after a storm).
func TestConnectedCancelsDisconnectNotice(t *testing.T) {
	_, c := testServer(t)
	m, states := testClient(t, c, testPassword)
	cancels := make(chan struct{}, 10)
	m.cancelDisconnectNotice = func() { cancels <- struct{}{} }
	m.Connect(context.Background())
	expectState(t, states, status.StateConnected, "")
	select {
	case <-cancels:
	case <-time.After(testTimeout):
		t.Fatal("CONNECTED did not cancel the pending disconnect notice")
	}
}
