package e2e

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"maunium.net/go/mautrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// TestDemo starts `msn-demo` as a person would, follows its printed
// instructions (log in to Matrix, talk to the bot, log in to MSN), checks
// that the chatty demo contact greets and answers, then stops it with Ctrl-C.
func TestDemo(t *testing.T) {
	needStack(t)
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(suite.demoBin, "-dir", dir+"/state", "-hs-port", "0",
		"-bridge-bin", suite.bridgeBin, "-dendrite-bin", suite.dendriteBin, "-away-every", "2s")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start msn-demo: %v", err)
	}
	exited := make(chan error, 1)
	info := make(chan map[string]string, 1)
	var output strings.Builder
	go func() {
		fields := map[string]string{}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			output.WriteString(line + "\n")
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasPrefix(line, "  ") {
				fields[k] = strings.TrimSpace(v)
			}
			if strings.HasPrefix(line, "Press Ctrl-C") {
				info <- fields
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
		exited <- cmd.Wait()
	}()
	stopped := false
	t.Cleanup(func() {
		if stopped {
			return
		}
		// Interrupt first so the demo stops Dendrite and the bridge it
		// started; kill only if it hangs.
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			_ = cmd.Process.Kill()
			<-exited
		}
	})

	var fields map[string]string
	select {
	case fields = <-info:
	case err := <-exited:
		stopped = true
		t.Fatalf("msn-demo exited early: %v\nstdout:\n%s\nstderr:\n%s", err, output.String(), stderr.String())
	case <-time.After(setupTimeout):
		t.Fatalf("msn-demo did not come up in %s", setupTimeout)
	}
	for _, k := range []string{"Homeserver", "Matrix user", "Matrix password", "Bridge bot", "MSN login", "MSN password", "Bridge"} {
		if fields[k] == "" {
			t.Fatalf("msn-demo did not print %q; printed %v", k, fields)
		}
	}

	// Log in to Matrix with the printed credentials.
	cli, err := mautrix.NewClient(fields["Homeserver"], "", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cli.Login(ctx, &mautrix.ReqLogin{
		Type:             mautrix.AuthTypePassword,
		Identifier:       mautrix.UserIdentifier{Type: mautrix.IdentifierTypeUser, User: fields["Matrix user"]},
		Password:         fields["Matrix password"],
		StoreCredentials: true,
	})
	if err != nil {
		t.Fatalf("log in with the printed Matrix credentials: %v", err)
	}
	user := stack.NewUser(cli)
	defer user.Close()
	e := &env{t: t, ctx: ctx, user: user, bot: id.UserID(fields["Bridge bot"])}
	e.mgmt = e.openManagementRoom(ctx)
	answer, err := e.login(fields["MSN login"], fields["MSN password"])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(answer, "Successfully logged in") {
		t.Fatalf("demo login answered %q", answer)
	}
	greeting, err := user.WaitEvent(ctx, msgTimeout, func(evt *event.Event) bool {
		return evt.Type == event.EventMessage && evt.Sender != e.bot && evt.Sender != user.UserID &&
			strings.Contains(evt.Content.AsMessage().Body, "I'm Chatty")
	})
	if err != nil {
		t.Fatalf("the chatty demo contact's greeting never arrived: %v", err)
	}
	cursor := user.Cursor()
	if _, err := user.SendText(ctx, greeting.RoomID, "hello chatty"); err != nil {
		t.Fatal(err)
	}
	if _, err := user.WaitEventAfter(ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == greeting.RoomID && evt.Sender == greeting.Sender &&
			strings.Contains(evt.Content.AsMessage().Body, "You said: hello chatty")
	}); err != nil {
		t.Fatalf("chatty did not answer: %v", err)
	}

	// Ctrl-C stops everything: the process exits 0 and the homeserver is gone.
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("msn-demo exited with %v after Ctrl-C\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("msn-demo did not stop within a minute of Ctrl-C")
	}
	if resp, err := http.Get(fields["Homeserver"] + "/_matrix/client/versions"); err == nil {
		resp.Body.Close()
		t.Error("the homeserver still answers after the demo stopped")
	}
	if _, err := os.Stat(fields["Bridge"]); err != nil {
		t.Errorf("the bridge log the demo named is missing after it stopped: %v", err)
	}
	if !strings.Contains(output.String(), "start-chat "+"alice@msn.demo") {
		t.Error("the demo does not say how to start a chat with the other contacts")
	}
	t.Logf("demo output:\n%s", output.String())
}
