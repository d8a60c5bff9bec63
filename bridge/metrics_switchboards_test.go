package bridge

import (
	"context"
	"net/http/httptest"
	"testing"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/status"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// The switchboards gauge shows the conversations open at scrape time, over
// the connected logins.
func TestSwitchboardsOpenMetric(t *testing.T) {
	srv, c := testServer(t)
	const friend = "friend@example.com"
	if err := srv.AddAccount(friend, "pw", "Friend"); err != nil {
		t.Fatal(err)
	}
	for _, pair := range [][2]string{{testEmail, friend}, {friend, testEmail}} {
		if err := srv.AddContact(pair[0], pair[1], 1|2|8); err != nil {
			t.Fatal(err)
		}
	}
	box := &inbox{ch: make(chan struct{}, 1)}
	peer := msnclient.NewClient(c.Config.Servers[0].clientConfig(friend, "pw", msnp.NewGUID()), box.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := peer.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer peer.Close()

	m, states := testClient(t, c, testPassword)
	m.login.Client = m
	// A login that never connected counts nothing.
	idle := &bridgev2.UserLogin{Client: newMSNClient(c, m.login, m.meta)}
	metrics := NewMetrics(func() int { return openSwitchboardsOf([]*bridgev2.UserLogin{m.login, idle}) })
	srvMetrics := httptest.NewServer(metrics.Handler())
	defer srvMetrics.Close()

	m.Connect(ctx)
	expectState(t, states, status.StateConnected, "")
	wantLine(t, scrape(t, srvMetrics.URL), `mautrix_msn_switchboards_open 0`)

	_, err := m.HandleMatrixMessage(ctx, &bridgev2.MatrixMessage{MatrixEventBase: bridgev2.MatrixEventBase[*event.MessageEventContent]{
		Content: &event.MessageEventContent{MsgType: event.MsgText, Body: "hello"},
		Portal:  testPortal(makeDMPortalKey(friend, m.login.ID)),
	}})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	box.wait(t, "hello")
	wantLine(t, scrape(t, srvMetrics.URL), `mautrix_msn_switchboards_open 1`)

	m.Disconnect()
	wantLine(t, scrape(t, srvMetrics.URL), `mautrix_msn_switchboards_open 0`)
}
