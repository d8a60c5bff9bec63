package msnp

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// engineOnPipe returns an engine writing to one end of a pipe and a reader
// of the lines it writes.
func engineOnPipe(t *testing.T) (*Engine, *bufio.Reader) {
	t.Helper()
	local, remote := net.Pipe()
	t.Cleanup(func() { local.Close(); remote.Close() })
	w := NewWriter(DeadlineWriter{Conn: local, Deadline: After(10 * time.Second)})
	return NewEngine(w, 5), bufio.NewReader(remote)
}

func readLine(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimRight(line, "\r\n")
}

func mustParse(t *testing.T, line string) *Command {
	t.Helper()
	cmd, _, err := ParseLine(line, FromServer)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

func TestEngineMatchesRepliesByTrID(t *testing.T) {
	e, r := engineOnPipe(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	type started struct {
		call *Call
		err  error
	}
	start := func(cmd *Command, accept func(*Command) bool) *Call {
		ch := make(chan started, 1)
		go func() {
			c, err := e.Start(cmd, accept)
			ch <- started{c, err}
		}()
		line := readLine(t, r) // the pipe needs a reader for the write to finish
		s := <-ch
		if s.err != nil {
			t.Fatal(s.err)
		}
		if !strings.HasPrefix(line, cmd.Name+" ") {
			t.Fatalf("wrote %q", line)
		}
		return s.call
	}
	chg := start(New("CHG", "NLN", "0"), func(c *Command) bool { return c.Name == "CHG" })
	xfr := start(New("XFR", "SB"), nil)
	if chg.TrID() != 5 || xfr.TrID() != 6 {
		t.Fatalf("transaction ids %d, %d; want 5, 6", chg.TrID(), xfr.TrID())
	}
	// A command with the right id but another name is not CHG's reply;
	// an error always is.
	if e.Deliver(mustParse(t, "ILN 5 NLN bob@example.com Bob")) {
		t.Error("ILN taken as the reply to CHG")
	}
	if !e.Deliver(mustParse(t, "XFR 6 SB 127.0.0.1:1864 CKI abc")) {
		t.Error("XFR reply not taken")
	}
	if e.Deliver(mustParse(t, "XFR 6 SB 127.0.0.1:1864 CKI again")) {
		t.Error("second reply with the same id taken")
	}
	if !e.Deliver(mustParse(t, "913 5")) {
		t.Error("error reply not taken")
	}
	if got, err := xfr.Wait(ctx); err != nil || got.Arg(4) != "abc" {
		t.Errorf("XFR got %v, %v", got, err)
	}
	if got, err := chg.Wait(ctx); err != nil || got.Name != "913" {
		t.Errorf("CHG got %v, %v", got, err)
	}
}

func TestEngineCloseFailsWaiters(t *testing.T) {
	e, r := engineOnPipe(t)
	go func() { _, _ = r.ReadString('\n'); _, _ = r.ReadString('\n') }()
	answered, err := e.Start(New("USR", "x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	waiting, err := e.Start(New("CAL", "bob@example.com"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Deliver(mustParse(t, "USR 5 OK"))
	cause := errors.New("connection reset")
	if !e.Close(cause) || e.Close(errors.New("second")) {
		t.Error("Close should report only the first close")
	}
	ctx := context.Background()
	if got, err := answered.Wait(ctx); err != nil || got.Name != "USR" {
		t.Errorf("a reply delivered before the close was lost: %v, %v", got, err)
	}
	if _, err := waiting.Wait(ctx); !errors.Is(err, ErrEngineClosed) || !errors.Is(err, cause) {
		t.Errorf("waiter got %v, want ErrEngineClosed wrapping the cause", err)
	}
	if _, err := e.Start(New("PNG"), nil); !errors.Is(err, ErrEngineClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestEngineWaitContext(t *testing.T) {
	e, r := engineOnPipe(t)
	go func() { _, _ = r.ReadString('\n') }()
	call, err := e.Start(New("SYN", "0"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := call.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait: %v", err)
	}
	if e.Deliver(mustParse(t, "SYN 5 1 0 0")) {
		t.Error("reply taken after its waiter gave up")
	}
}
