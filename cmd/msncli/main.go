// Command msncli is a small terminal MSN Messenger client for checking a
// server and an account, and for manual testing. See docs/msncli.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	opts, mode, rest, err := parseArgs(args, stderr)
	if errors.Is(err, errHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "msncli: %v\n", err)
		fmt.Fprintln(stderr, "Run 'msncli -h' for usage.")
		return exitUsage
	}
	app := &app{opts: opts, stdin: stdin, stdout: stdout, stderr: stderr}
	switch mode {
	case "login":
		err = app.login(ctx, rest)
	case "send":
		err = app.send(ctx, rest)
	case "listen":
		err = app.listen(ctx, rest)
	case "chat":
		err = app.chat(ctx, rest)
	case "picture":
		err = app.picture(ctx, rest)
	default:
		fmt.Fprintf(stderr, "msncli: unknown command %q (want login, send, listen, chat or picture)\n", mode)
		return exitUsage
	}
	var ue usageError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "msncli: %v\n", err)
		return exitUsage
	}
	fmt.Fprintf(stderr, "msncli: %v\n", err)
	return exitError
}

// usageError is a command-line mistake (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// app is one run of the tool.
type app struct {
	opts   *options
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// connect logs in with handler receiving every event, within the timeout.
func (a *app) connect(ctx context.Context, handler msnclient.EventHandler) (*msnclient.Client, error) {
	cfg, err := a.opts.config(a.stderr)
	if err != nil {
		return nil, err
	}
	c := msnclient.NewClient(cfg, handler)
	lctx, cancel := context.WithTimeout(ctx, a.opts.timeout)
	defer cancel()
	if err := c.Connect(lctx); err != nil {
		_ = c.Close()
		if errors.Is(err, msnclient.ErrBadCredentials) {
			return nil, fmt.Errorf("login failed: wrong email or password for %s", cfg.Email)
		}
		return nil, fmt.Errorf("login failed: %w", err)
	}
	return c, nil
}
