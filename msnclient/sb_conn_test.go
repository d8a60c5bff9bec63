package msnclient

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scriptedSB accepts one switchboard connection and lets the test play the
// server side line by line.
type scriptedSB struct {
	t    *testing.T
	ln   net.Listener
	conn net.Conn
	r    *bufio.Reader
}

func newScriptedSB(t *testing.T) *scriptedSB {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &scriptedSB{t: t, ln: ln}
}

func (s *scriptedSB) accept() {
	s.t.Helper()
	conn, err := s.ln.Accept()
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	s.conn, s.r = conn, bufio.NewReader(conn)
}

func (s *scriptedSB) expectLine(want string) {
	s.t.Helper()
	line, err := s.r.ReadString('\n')
	if err != nil {
		s.t.Fatalf("waiting for %q: %v", want, err)
	}
	if got := strings.TrimRight(line, "\r\n"); got != want {
		s.t.Fatalf("client sent %q, want %q", got, want)
	}
}

func (s *scriptedSB) write(lines ...string) {
	s.t.Helper()
	if _, err := s.conn.Write([]byte(strings.Join(lines, ""))); err != nil {
		s.t.Fatal(err)
	}
}

// eventChan collects a client's events.
func eventChan() (EventHandler, <-chan any) {
	ch := make(chan any, 100)
	return func(evt any) { ch <- evt }, ch
}

func nextEvent[T any](t *testing.T, ch <-chan any) T {
	t.Helper()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case evt := <-ch:
			if v, ok := evt.(T); ok {
				return v
			}
			if _, ok := evt.(*ConversationClosed); ok {
				var zero T
				if _, want := any(zero).(*ConversationClosed); !want {
					t.Fatalf("conversation closed while waiting for %T", zero)
				}
			}
		case <-timeout:
			var zero T
			t.Fatalf("no %T event", zero)
		}
	}
}

func TestSBRobustAgainstOddServerLines(t *testing.T) {
	handler, events := eventChan()
	c := NewClient(Config{Email: "Me@Example.com"}, handler)
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, "sid123", srv.ln.Addr().String(), "cookie1")
	}()
	srv.accept()
	srv.expectLine("ANS 1 Me@Example.com cookie1 sid123")
	srv.write(
		"IRO 1 1 4 bob@example.com;{b1} Bob 2789003324:48\r\n",
		"IRO 1 2 4 bob@example.com Bob 2789003324:48\r\n",
		"IRO 1 3 4 me@example.com;{m2} Me 2789003324:48\r\n", // our other endpoint
		"IRO 1 4 4 carol@example.com Carol%20C\r\n",
		"ANS 1 OK\r\n",
	)
	if err := <-errc; err != nil {
		t.Fatalf("answer: %v", err)
	}
	text := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhello"
	srv.write(
		"JOI me@example.com Me 2789003324:48\r\n", // Escargot announces us to ourselves
		"this is not a command\r\n",
		"XYZ 1 2 3\r\n",
		"MSG bob@example.com Bob "+strconv.Itoa(len(text))+"\r\n"+text,
	)
	m := nextEvent[*MessageReceived](t, events)
	if m.From != "bob@example.com" || m.Message.Text != "hello" || strings.Join(m.Participants, ",") != "bob@example.com,carol@example.com" {
		t.Errorf("message %+v", m)
	}
	if cv := c.Conversation("carol@example.com", "BOB@example.com"); cv.s.find(cv.Participants()) == nil {
		t.Errorf("the joined session does not serve bob and carol")
	}

	// One endpoint of bob leaving is not bob leaving; the idle flag is tolerated.
	srv.write("BYE bob@example.com;{b1}\r\n", "BYE carol@example.com 1\r\n")
	left := nextEvent[*ParticipantLeft](t, events)
	if left.Email != "carol@example.com" || strings.Join(left.Participants, ",") != "bob@example.com" {
		t.Errorf("leave %+v", left)
	}
	srv.write("BYE bob@example.com\r\n")
	if left := nextEvent[*ParticipantLeft](t, events); left.Email != "bob@example.com" || len(left.Participants) != 0 {
		t.Errorf("leave %+v", left)
	}
	// Nobody left: the client leaves too.
	srv.expectLine("OUT")
	closed := nextEvent[*ConversationClosed](t, events)
	if strings.Join(closed.Participants, ",") != "bob@example.com" {
		t.Errorf("closed %+v", closed)
	}
}

func TestSBHandshakeRefused(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com"}, nil)
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, "sid", srv.ln.Addr().String(), "stale")
	}()
	srv.accept()
	srv.expectLine("ANS 1 me@example.com stale sid")
	srv.write("911 1\r\n")
	err := <-errc
	if err == nil || !strings.Contains(err.Error(), "911") {
		t.Fatalf("refused cookie gave %v", err)
	}
}

func TestSBHandshakeTimesOut(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com"}, nil)
	srv := newScriptedSB(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.sb.answer(ctx, "sid", srv.ln.Addr().String(), "c") }()
	srv.accept()
	srv.expectLine("ANS 1 me@example.com c sid")
	cancel() // the server never answers; the caller gives up
	if err := <-errc; err == nil {
		t.Fatal("handshake without an answer succeeded")
	}
}

func TestSBJoinedAfterDisconnectIsClosed(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com"}, nil)
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, "sid", srv.ln.Addr().String(), "c")
	}()
	srv.accept()
	srv.expectLine("ANS 1 me@example.com c sid")
	c.sb.closeAll() // the client disconnects while the handshake is running
	srv.write("IRO 1 1 1 bob@example.com Bob\r\n", "ANS 1 OK\r\n")
	if err := <-errc; !errors.Is(err, ErrNotConnected) {
		t.Fatalf("joining after disconnect gave %v, want ErrNotConnected", err)
	}
	srv.expectLine("OUT")
	if _, err := srv.r.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("connection still open after OUT: %v", err)
	}
	if n := c.OpenSwitchboards(); n != 0 {
		t.Errorf("%d switchboards open after disconnect", n)
	}
}
