package bridge

import (
	"context"
	"net/http/httptest"
	"testing"

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
