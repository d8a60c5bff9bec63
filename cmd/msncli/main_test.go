package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

const testTimeout = 90 * time.Second

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "msncli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "msncli")
	build := exec.Command("go", "build", "-tags", "goolm", "-o", binPath, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build msncli:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func startServer(t *testing.T) *msntest.Server {
	t.Helper()
	srv, err := msntest.Start(msntest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for _, e := range []string{"alice@example.com", "bob@example.com"} {
		if err := srv.AddAccount(e, "pw-"+e, "Name "+e); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddContact("alice@example.com", "bob@example.com", msntest.ListFL|msntest.ListAL); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddContact("bob@example.com", "alice@example.com", msntest.ListFL|msntest.ListAL); err != nil {
		t.Fatal(err)
	}
	return srv
}

// cliArgs are the flags pointing msncli at srv as alice.
func cliArgs(srv *msntest.Server, versions string) []string {
	return []string{"-server", srv.NSAddr(), "-http-base", srv.HTTPURL(), "-allow-http", "-versions", versions, "-email", "alice@example.com", "-timeout", "60s"}
}

// runCLI runs msncli to completion with the password in the environment.
func runCLI(t *testing.T, password string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), "MSN_PASSWORD="+password)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run msncli: %v", err)
	}
	return out.String(), errb.String(), code
}

// bobClient logs bob in through the library and records his events.
type recorder struct {
	mu      sync.Mutex
	events  []any
	changed chan struct{}
}

func (r *recorder) handle(evt any) {
	r.mu.Lock()
	r.events = append(r.events, evt)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

func (r *recorder) waitMessage(t *testing.T, text string) *msnclient.MessageReceived {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		r.mu.Lock()
		for _, e := range r.events {
			if m, ok := e.(*msnclient.MessageReceived); ok && m.Message.Text == text {
				r.mu.Unlock()
				return m
			}
		}
		ch := r.changed
		r.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("bob did not receive %q", text)
		}
	}
}

func connectBob(t *testing.T, srv *msntest.Server) (*msnclient.Client, *recorder) {
	t.Helper()
	rec := &recorder{changed: make(chan struct{})}
	cfg := msnclient.Config{Email: "bob@example.com", Password: "pw-bob@example.com", Server: srv.NSAddr()}
	cfg.UseEscargotURLs(srv.HTTPURL())
	cfg.AllowPlainHTTP = true
	c := msnclient.NewClient(cfg, rec.handle)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatalf("bob login: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, rec
}

func TestLogin(t *testing.T) {
	srv := startServer(t)
	for _, v := range []string{"18", "15", "11", "8"} {
		stdout, stderr, code := runCLI(t, "pw-alice@example.com", append(cliArgs(srv, v), "login")...)
		if code != 0 {
			t.Fatalf("MSNP%s: exit %d, stderr %s", v, code, stderr)
		}
		if !strings.Contains(stdout, "Logged in as alice@example.com with MSNP"+v+"\n") {
			t.Errorf("MSNP%s: output lacks the dialect:\n%s", v, stdout)
		}
		if !strings.Contains(stdout, "bob@example.com") || !strings.Contains(stdout, "1 contacts") {
			t.Errorf("MSNP%s: output lacks the contact list:\n%s", v, stdout)
		}
	}
}

func TestLoginBadPassword(t *testing.T) {
	srv := startServer(t)
	stdout, stderr, code := runCLI(t, "wrong", append(cliArgs(srv, "18"), "login")...)
	if code == 0 {
		t.Fatalf("bad password exited 0: %s", stdout)
	}
	if !strings.Contains(stderr, "wrong email or password") {
		t.Errorf("unclear error: %q", stderr)
	}
	if strings.Contains(stderr+stdout, "wrong\n") || strings.Contains(stderr+stdout, "pw-") {
		t.Errorf("password leaked in output")
	}
}

func TestUsageErrors(t *testing.T) {
	srv := startServer(t)
	for _, args := range [][]string{
		{},
		{"frobnicate"},
		append(cliArgs(srv, "18"), "send", "bob@example.com"),
		{"-email", "alice@example.com", "login"},
		append(cliArgs(srv, "99"), "login"),
	} {
		_, stderr, code := runCLI(t, "pw-alice@example.com", args...)
		if code != 2 || stderr == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, stderr)
		}
	}
}

func TestSend(t *testing.T) {
	srv := startServer(t)
	_, rec := connectBob(t, srv)
	args := append(cliArgs(srv, "15"), "send", "bob@example.com", "hello", "from", "msncli")
	stdout, stderr, code := runCLI(t, "pw-alice@example.com", args...)
	if code != 0 {
		t.Fatalf("send exited %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "acknowledged") {
		t.Errorf("stdout %q", stdout)
	}
	m := rec.waitMessage(t, "hello from msncli")
	if m.From != "alice@example.com" {
		t.Errorf("from %q", m.From)
	}
}

func TestSendToOfflineContactFails(t *testing.T) {
	srv := startServer(t)
	_, stderr, code := runCLI(t, "pw-alice@example.com", append(cliArgs(srv, "18"), "send", "bob@example.com", "hi")...)
	if code != 1 || !strings.Contains(stderr, "not delivered") {
		t.Errorf("exit %d, stderr %q; want 1 and a delivery error", code, stderr)
	}
}

func TestListenPrintsJSON(t *testing.T) {
	srv := startServer(t)
	bob, _ := connectBob(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append(cliArgs(srv, "18"), "listen")...)
	cmd.Env = append(os.Environ(), "MSN_PASSWORD=pw-alice@example.com")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var obj map[string]any
			if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
				t.Errorf("not a JSON line: %q", sc.Text())
				continue
			}
			lines <- obj
		}
	}()
	next := func(typ string) map[string]any {
		t.Helper()
		for obj := range lines {
			if obj["type"] == typ {
				return obj
			}
		}
		t.Fatalf("no %q event; stderr: %s", typ, stderr.String())
		return nil
	}
	if p := next("presence"); p["email"] != "bob@example.com" {
		t.Errorf("presence %v", p)
	}
	if err := srv.WaitOnline(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	conv := bob.Conversation("alice@example.com")
	if err := conv.SendText(ctx, msnclient.TextMessage{Text: "hi listener", Format: msnclient.Format{Color: 0xff0000}}); err != nil {
		t.Fatal(err)
	}
	msg := next("message")
	if msg["from"] != "bob@example.com" || msg["text"] != "hi listener" || msg["format"].(map[string]any)["color"] != "#ff0000" {
		t.Errorf("message %v", msg)
	}
	// Typing goes over the switchboard the message opened.
	if err := conv.SendTyping(ctx); err != nil {
		t.Fatal(err)
	}
	if typing := next("typing"); typing["from"] != "bob@example.com" {
		t.Errorf("typing %v", typing)
	}
	if err := conv.SendNudge(ctx); err != nil {
		t.Fatal(err)
	}
	next("nudge")
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for range lines {
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("listen did not exit cleanly on SIGINT: %v; stderr %s", err, stderr.String())
	}
}

func TestChat(t *testing.T) {
	srv := startServer(t)
	bob, rec := connectBob(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append(cliArgs(srv, "11"), "chat", "bob@example.com")...)
	cmd.Env = append(os.Environ(), "MSN_PASSWORD=pw-alice@example.com")
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	expectLine := func(want string) {
		t.Helper()
		for sc.Scan() {
			if strings.Contains(sc.Text(), want) {
				return
			}
		}
		t.Fatalf("no output line with %q", want)
	}
	expectLine("chatting with bob@example.com")
	fmt.Fprintln(in, "line one")
	rec.waitMessage(t, "line one")
	if err := bob.Conversation("alice@example.com").SendText(ctx, msnclient.TextMessage{Text: "answer"}); err != nil {
		t.Fatal(err)
	}
	expectLine("<bob@example.com> answer")
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("chat did not exit cleanly at end of input: %v", err)
	}
}
