package msnclient_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// chatTimeout is generous: tests must pass on a loaded 2-core CI machine.
const chatTimeout = 60 * time.Second

// chatPeer is a logged-in client that records its events.
type chatPeer struct {
	*msnclient.Client
	*recorder
	email string
}

// chatWait waits for the n-th (1-based) event matching match and returns it.
func chatWait[T any](t testing.TB, p *chatPeer, n int, match func(T) bool) T {
	t.Helper()
	return waitNth(t, p.recorder, 0, n, chatTimeout, p.email+"'s event #"+strconv.Itoa(n), match)
}

// chatCount returns how many events of type T matching match were received.
func chatCount[T any](p *chatPeer, match func(T) bool) int {
	_, n := nth(p.recorder, 0, -1, match)
	return n
}

// testServer starts a fake server with the given accounts, all contacts of
// each other.
func chatServer(t testing.TB, emails ...string) *msntest.Server {
	t.Helper()
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, e := range emails {
		if err := srv.AddAccount(e, "pw-"+e, "Name of "+e); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range emails {
		for _, b := range emails {
			if a != b {
				if err := srv.AddContact(a, b, msntest.ListFL|msntest.ListAL); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return srv
}

func chatConfig(srv *msntest.Server, email string, version int) msnclient.Config {
	return serverConfig(srv, email, "pw-"+email, version)
}

// connect logs email in with one dialect; cfgFn may adjust the config.
// With MSN_TEST_DEBUGLOG set, the client's trace log is kept and printed
// if the test fails (for flakes seen under stress).
func chatConnect(t testing.TB, srv *msntest.Server, email string, version int, cfgFn func(*msnclient.Config)) *chatPeer {
	t.Helper()
	cfg := chatConfig(srv, email, version)
	if cfgFn != nil {
		cfgFn(&cfg)
	}
	if os.Getenv("MSN_TEST_DEBUGLOG") != "" && cfg.Logger == nil {
		buf := &testutil.SyncBuffer{}
		l := zerolog.New(buf).Level(zerolog.TraceLevel).With().Timestamp().Logger()
		cfg.Logger = &l
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("log of %s:\n%s", email, buf.String())
			}
		})
	}
	p := &chatPeer{recorder: newRecorder(), email: email}
	p.Client = msnclient.NewClient(cfg, p.handle)
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	defer cancel()
	if err := p.Connect(ctx); err != nil {
		t.Fatalf("log in %s with MSNP%d: %v", email, version, err)
	}
	if got := p.Version(); got != version {
		t.Fatalf("%s negotiated MSNP%d, want %d", email, got, version)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// chatPair starts a server where alice and bob are contacts of each other
// and logs them in with the given dialects; aliceCfg may adjust alice's
// config. It returns a context bounded by chatTimeout.
func chatPair(t testing.TB, aliceVersion, bobVersion int, aliceCfg func(*msnclient.Config)) (*msntest.Server, *chatPeer, *chatPeer, context.Context) {
	t.Helper()
	srv := chatServer(t, "alice@example.com", "bob@example.com")
	alice := chatConnect(t, srv, "alice@example.com", aliceVersion, aliceCfg)
	bob := chatConnect(t, srv, "bob@example.com", bobVersion, nil)
	return srv, alice, bob, chatCtx(t)
}

func chatCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), chatTimeout)
	t.Cleanup(cancel)
	return ctx
}
