package bridge

import (
	"net"
	"os"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/database"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/bridgev2/status"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// Generous: tests run on loaded 2-core CI machines.
const testTimeout = 30 * time.Second

const (
	testEmail    = "me@example.com"
	testPassword = "correct horse"
)

// testServer starts a fake MSN server with our account and returns a
// connector configured for it.
func testServer(t *testing.T) (*msntest.Server, *Connector) {
	t.Helper()
	srv := msntest.StartT(t, msntest.Options{})
	if err := srv.AddAccount(testEmail, testPassword, "Me Myself"); err != nil {
		t.Fatal(err)
	}
	c := &Connector{Config: Config{
		Servers:        []ServerConfig{serverConfigFor(srv, "test")},
		CredentialsKey: generateCredentialsKey(),
	}}
	if err := c.Config.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := c.Config.compile(); err != nil {
		t.Fatal(err)
	}
	return srv, c
}

func serverConfigFor(srv *msntest.Server, name string) ServerConfig {
	base := srv.HTTPURL()
	return ServerConfig{
		Name:               name,
		NotificationServer: srv.NSAddr(),
		NexusURL:           base + "/rdr/pprdr.asp",
		LoginURL:           base + "/login",
		RSTURL:             base + "/RST.srf",
		RST2URL:            base + "/RST2.srf",
		ABServiceURL:       base + "/abservice/abservice.asmx",
		SharingServiceURL:  base + "/abservice/SharingService.asmx",
		AllowPlainHTTP:     true, // msntest's plain HTTP on loopback
	}
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// testClient builds an MSNClient for a stored login with password, outside
// a running bridge, recording its bridge states.
func testClient(t *testing.T, c *Connector, password string) (*MSNClient, chan status.BridgeState) {
	t.Helper()
	sealed, err := encryptPassword(c.Config.credentialsKey, makeUserLoginID(testEmail), password)
	if err != nil {
		t.Fatal(err)
	}
	login := &bridgev2.UserLogin{
		UserLogin: &database.UserLogin{ID: makeUserLoginID(testEmail)},
		Log:       zerolog.Nop(),
	}
	if os.Getenv("MSN_TEST_LOG") != "" {
		login.Log = zerolog.New(os.Stderr).Level(zerolog.DebugLevel).With().Timestamp().Logger()
	}
	meta := &UserLoginMetadata{Email: testEmail, Server: "test", EncryptedPassword: sealed, MachineGUID: msnp.NewGUID()}
	login.Metadata = meta
	m := newMSNClient(c, login, meta)
	states := make(chan status.BridgeState, 100)
	m.stateSink = func(s status.BridgeState) { states <- s }
	m.backoff = func(int) time.Duration { return 50 * time.Millisecond }
	t.Cleanup(m.Disconnect)
	return m, states
}

// expectState waits for the next state with the event (and code, when not
// empty). Only CONNECTING may come before it; any other state in between
// fails the test, so an unexpected disconnect or error state is never
// skipped unnoticed.
func expectState(t *testing.T, states chan status.BridgeState, evt status.BridgeStateEvent, code status.BridgeStateErrorCode) status.BridgeState {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		select {
		case s := <-states:
			if s.StateEvent == evt && (code == "" || s.Error == code) {
				return s
			}
			if s.StateEvent != status.StateConnecting {
				t.Fatalf("got state %s %s while waiting for %s %s", s.StateEvent, s.Error, evt, code)
			}
		case <-deadline:
			t.Fatalf("no %s %s state", evt, code)
			return status.BridgeState{}
		}
	}
}

func portalKeyOf(id string, login networkid.UserLoginID) networkid.PortalKey {
	return networkid.PortalKey{ID: networkid.PortalID(id), Receiver: login}
}
