package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"maunium.net/go/mautrix"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// Demo accounts on the fake MSN server.
const (
	demoUserEmail    = "you@msn.demo"
	demoUserPassword = "msn-demo"
	chattyEmail      = "chatty@msn.demo"
	aliceEmail       = "alice@msn.demo"
	bobEmail         = "bob@msn.demo"
	peerPassword     = "peer-password"
	defaultAwayEvery = 45 * time.Second
)

type demoOptions struct {
	Dir            string
	HSPort         int
	BridgeBin      string
	DendriteBin    string
	MatrixUser     string
	MatrixPassword string
	AwayEvery      time.Duration
}

// run starts the stack, prints the login details and waits for ctx to end.
func run(ctx context.Context, opts demoOptions, out io.Writer) (err error) {
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "msn-demo-")
		if err != nil {
			return fmt.Errorf("state dir: %w", err)
		}
		defer os.RemoveAll(dir)
		opts.Dir = dir
	}
	if err := findBinaries(ctx, &opts, out); err != nil {
		return err
	}

	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		return fmt.Errorf("start fake MSN server: %w", err)
	}
	defer srv.Close()
	if err := addAccounts(srv); err != nil {
		return err
	}

	say(out, "Starting Dendrite and the bridge in %s ...", opts.Dir)
	st, err := stack.Start(ctx, stack.Options{
		Dir:         opts.Dir,
		DendriteBin: opts.DendriteBin,
		BridgeBin:   opts.BridgeBin,
		MSN:         srv,
		HSPort:      opts.HSPort,
	})
	if err != nil {
		return err
	}
	defer func() {
		say(out, "Stopping ...")
		err = errors.Join(err, st.Stop())
	}()

	userID, err := registerDemoUser(ctx, st.HS, opts.MatrixUser, opts.MatrixPassword)
	if err != nil {
		return err
	}

	chatty, err := startChatty(ctx, srv, opts.AwayEvery, func(format string, args ...any) { say(out, format, args...) })
	if err != nil {
		return err
	}
	defer chatty.Close()
	alice := msnclient.NewClient(peerConfig(srv, aliceEmail), func(any) {})
	if err := alice.Connect(ctx); err != nil {
		return fmt.Errorf("demo contact %s: %w", aliceEmail, err)
	}
	defer alice.Close()
	if err := alice.SetStatus(ctx, msnclient.StatusBusy); err != nil {
		return fmt.Errorf("demo contact %s status: %w", aliceEmail, err)
	}

	say(out, "")
	say(out, "mautrix-msn demo is running.")
	say(out, "  Homeserver:      %s", st.HS.URL)
	say(out, "  Matrix user:     %s", userID)
	say(out, "  Matrix password: %s", opts.MatrixPassword)
	say(out, "  Bridge bot:      %s", st.Bridge.BotMXID)
	say(out, "  MSN login:       %s", demoUserEmail)
	say(out, "  MSN password:    %s", demoUserPassword)
	say(out, "")
	say(out, "Log in to the homeserver with any Matrix client (e.g. Element, homeserver URL above),")
	say(out, "start a chat with the bridge bot and send: login")
	say(out, "then answer with the MSN login and password. %s will greet you;", chattyEmail)
	say(out, "%s is busy and %s is offline. Logs: %s", aliceEmail, bobEmail, filepath.Join(opts.Dir, "bridge", "bridge.log"))
	say(out, "Press Ctrl-C to stop.")

	select {
	case <-ctx.Done():
	case <-st.HS.Process().Done():
		return fmt.Errorf("dendrite exited (log %s)", st.HS.Process().LogPath)
	case <-st.Bridge.Process().Done():
		return fmt.Errorf("the bridge exited (log %s)", st.Bridge.LogPath)
	}
	return nil
}

// findBinaries locates (or installs/builds) Dendrite and the bridge.
func findBinaries(ctx context.Context, opts *demoOptions, out io.Writer) error {
	if opts.DendriteBin == "" {
		bin, err := stack.FindDendrite()
		if errors.Is(err, stack.ErrNoDendrite) {
			say(out, "Installing Dendrite %s with go install (takes a minute or two) ...", stack.DendriteVersion)
			bin, err = stack.InstallDendrite(ctx)
		}
		if err != nil {
			return err
		}
		opts.DendriteBin = bin
	}
	if opts.BridgeBin == "" {
		moduleDir, err := stack.ModuleDir()
		if err != nil {
			return fmt.Errorf("building the bridge needs the source tree (or pass -bridge-bin): %w", err)
		}
		binDir := filepath.Join(opts.Dir, "bin")
		if err := os.MkdirAll(binDir, 0o755); err != nil {
			return fmt.Errorf("create bin dir: %w", err)
		}
		say(out, "Building mautrix-msn ...")
		bin, err := stack.BuildBridge(ctx, moduleDir, binDir)
		if err != nil {
			return err
		}
		opts.BridgeBin = bin
	}
	return nil
}

// addAccounts creates the demo user and the three contacts, all mutual.
func addAccounts(srv *msntest.Server) error {
	accounts := []struct{ email, password, name string }{
		{demoUserEmail, demoUserPassword, "You"},
		{chattyEmail, peerPassword, "Chatty the demo bot"},
		{aliceEmail, peerPassword, "Alice"},
		{bobEmail, peerPassword, "Bob"},
	}
	for _, a := range accounts {
		if err := srv.AddAccount(a.email, a.password, a.name); err != nil {
			return fmt.Errorf("add demo account %s: %w", a.email, err)
		}
	}
	const mutual = uint8(msnclient.ListForward | msnclient.ListAllow | msnclient.ListReverse)
	for _, c := range []string{chattyEmail, aliceEmail, bobEmail} {
		if err := srv.AddContact(demoUserEmail, c, mutual); err != nil {
			return fmt.Errorf("add demo contact %s: %w", c, err)
		}
		if err := srv.AddContact(c, demoUserEmail, mutual); err != nil {
			return fmt.Errorf("add demo contact %s: %w", c, err)
		}
	}
	return nil
}

// registerDemoUser creates the Matrix account; an existing one (from an
// earlier run with the same -dir) is reused.
func registerDemoUser(ctx context.Context, hs *stack.Dendrite, user, password string) (string, error) {
	cli, err := stack.RegisterUser(ctx, hs.URL, hs.SharedSecret, user, password)
	if err == nil {
		return cli.UserID.String(), nil
	}
	if errors.Is(err, mautrix.MUserInUse) {
		return fmt.Sprintf("@%s:%s", user, hs.ServerName), nil
	}
	return "", err
}

// peerConfig is the msnclient config of a demo contact.
func peerConfig(srv *msntest.Server, email string) msnclient.Config {
	cfg := msnclient.Config{Email: email, Password: peerPassword, Server: srv.NSAddr()}
	cfg.UseEscargotURLs(srv.HTTPURL())
	cfg.AllowPlainHTTP = true // msntest's plain HTTP on loopback
	return cfg
}
