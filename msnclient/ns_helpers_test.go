package msnclient_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// Generous timeouts: tests run on loaded 2-core CI machines.
const (
	testTimeout  = 30 * time.Second
	testPassword = "correct horse"
)

func startServer(t testing.TB, opts msntest.Options) *msntest.Server {
	t.Helper()
	srv, err := msntest.Start(opts)
	if err != nil {
		t.Fatalf("start fake server: %v", err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func addAccount(t testing.TB, srv *msntest.Server, email, name string) {
	t.Helper()
	if err := srv.AddAccount(email, testPassword, name); err != nil {
		t.Fatal(err)
	}
}

func addContact(t testing.TB, srv *msntest.Server, owner, contact string, lists uint8) {
	t.Helper()
	if err := srv.AddContact(owner, contact, lists); err != nil {
		t.Fatal(err)
	}
}

// config returns a client config for email on srv speaking only version.
func config(srv *msntest.Server, email string, version int) msnclient.Config {
	cfg := serverConfig(srv, email, testPassword, version)
	cfg.RequestTimeout = testTimeout
	return cfg
}

// testClient is a client with its recorder.
type testClient struct {
	*msnclient.Client
	rec *recorder
}

// connect logs a client in and registers its Close.
func nsConnect(t testing.TB, cfg msnclient.Config) *testClient {
	t.Helper()
	debugLog(t, &cfg)
	tc := newTestClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := tc.Connect(ctx); err != nil {
		t.Fatalf("connect %s (MSNP%v): %v", cfg.Email, cfg.Versions, err)
	}
	t.Cleanup(func() { _ = tc.Close() })
	return tc
}

// debugLog gives cfg a trace logger when MSN_TEST_DEBUGLOG is set (and
// cfg has no logger yet); the log is printed if the test fails, for flakes
// seen under stress.
func debugLog(t testing.TB, cfg *msnclient.Config) {
	if os.Getenv("MSN_TEST_DEBUGLOG") == "" || cfg.Logger != nil {
		return
	}
	buf := &testutil.SyncBuffer{}
	l := zerolog.New(buf).Level(zerolog.TraceLevel).With().Timestamp().Logger()
	cfg.Logger = &l
	email := cfg.Email
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log of %s:\n%s", email, buf.String())
		}
	})
}

func newTestClient(cfg msnclient.Config) *testClient {
	rec := newRecorder()
	return &testClient{Client: msnclient.NewClient(cfg, rec.handle), rec: rec}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

var allVersions = []int{8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
