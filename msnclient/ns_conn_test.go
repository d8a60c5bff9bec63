package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/testutil"
	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// pipeSession is a logged-in session over net.Pipe, with the server end.
type pipeSession struct {
	c      *Client
	s      *session
	server net.Conn
	r      *msnp.Reader
	events chan any
}

func newPipeSession(t *testing.T, version int, logger *zerolog.Logger) *pipeSession {
	t.Helper()
	events := make(chan any, 100)
	c := NewClient(Config{Email: "alice@example.com", Server: "pipe", Logger: logger, RequestTimeout: 10 * time.Second},
		func(evt any) { events <- evt })
	clientEnd, serverEnd := net.Pipe()
	d := mustDialect(t, version)
	s := newSession(c, newNSConn(clientEnd, &c.log, c.cfg.RequestTimeout), d)
	c.mu.Lock()
	c.sess, c.dia = s, d
	c.mu.Unlock()
	if !s.markConnected() {
		t.Fatal("session ended")
	}
	go s.run()
	t.Cleanup(func() { s.end(ReasonClosed, nil); _ = serverEnd.Close() })
	p := &pipeSession{c: c, s: s, server: serverEnd, r: msnp.NewReader(serverEnd, msnp.FromClient), events: events}
	p.next(t) // Connected
	return p
}

// send writes raw server bytes; run it in a goroutine (net.Pipe is
// synchronous). A failed write shows up as a missing event.
func (p *pipeSession) send(raw string) {
	_, _ = p.server.Write([]byte(raw))
}

func (p *pipeSession) next(t *testing.T) any {
	t.Helper()
	select {
	case evt := <-p.events:
		return evt
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

func TestChallengeAnsweredWithReferenceVectors(t *testing.T) {
	tests := []struct {
		version          int
		challenge, id, r string
	}{
		{8, "15570131571988941333", "msmsgs@msnmsgr.com", "8f2f5a91b72102cd28355e9fc9000d6e"},
		{11, "22940274951814684551", "PROD0090YUAUV{2B", "ffeb4c3cf93db6a4b708b246baade0d9"},
	}
	for _, tt := range tests {
		p := newPipeSession(t, tt.version, nil)
		go p.send("CHL 0 " + tt.challenge + "\r\n")
		_ = p.server.SetReadDeadline(time.Now().Add(10 * time.Second))
		cmd, err := p.r.ReadCommand()
		if err != nil {
			t.Fatal(err)
		}
		if cmd.Name != "QRY" || cmd.Arg(1) != tt.id || string(cmd.Payload) != tt.r {
			t.Errorf("MSNP%d: got %s %q", tt.version, cmd, cmd.Payload)
		}
	}
}

func TestMalformedLinesSkipped(t *testing.T) {
	p := newPipeSession(t, 18, nil)
	go p.send("nln bad\r\nNLN\r\nNLN XYZ 1:bob@example.com Bob 0:0\r\nFLN\r\nUBX 1:bob@example.com 7\r\n<Data><\r\n" +
		"NLN BSY 1:bob@example.com Bob%20\xff 1:0 %3Cmsnobj%2F%3E\r\n")
	evt := p.next(t)
	pres, ok := evt.(*ContactPresence)
	if !ok || pres.Email != "bob@example.com" || pres.Status != StatusBusy || pres.FriendlyName != "Bob \uFFFD" {
		t.Fatalf("got %T %+v", evt, evt)
	}
}

func TestOversizedPayloadEndsConnection(t *testing.T) {
	p := newPipeSession(t, 18, nil)
	go p.send("UBX 1:bob@example.com 999999999\r\n")
	evt := p.next(t)
	d, ok := evt.(*Disconnected)
	if !ok || d.Reason != ReasonConnectionLost || !errors.Is(d.Err, msnp.ErrPayloadTooLarge) {
		t.Fatalf("got %T %+v", evt, evt)
	}
}

func TestEventsInOrderWithSlowHandler(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	q := newEventQueue(func(evt any) {
		<-release
		mu.Lock()
		got = append(got, evt.(string))
		if len(got) == 1000 {
			close(done)
		}
		mu.Unlock()
	}, zerolog.Nop())
	for i := 0; i < 1000; i++ {
		q.push(strings.Repeat("x", i%7) + string(rune('a'+i%26))) // never blocks
	}
	close(release)
	<-done
	for i, s := range got {
		if want := strings.Repeat("x", i%7) + string(rune('a'+i%26)); s != want {
			t.Fatalf("event %d = %q, want %q", i, s, want)
		}
	}
}

func TestSecretsNeverLogged(t *testing.T) {
	var buf testutil.SyncBuffer
	logger := zerolog.New(&buf).Level(zerolog.TraceLevel)
	p := newPipeSession(t, 18, &logger)
	const ticket = "t=0123456789abcdef0123SECRETFILLER&p="
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		_ = p.s.conn.send(msnp.New("USR", "SSO", "S", ticket, "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAAmbiblob", "{guid}"))
	}()
	_ = p.server.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := p.r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	go p.send("RNG 123 127.0.0.1:1864 CKI 1234567890secretcookie bob@example.com Bob\r\nOUT SSD\r\n")
	for {
		if _, ok := p.next(t).(*Disconnected); ok {
			break
		}
	}
	<-sent // send logs after its write, which the server may read first
	out := buf.String()
	if !strings.Contains(out, "USR") {
		t.Fatalf("trace log does not show commands: %s", out)
	}
	for _, secret := range []string{"SECRET", "mbiblob", "secretcookie"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

func TestServerEndsSession(t *testing.T) {
	tests := []struct {
		raw    string
		reason DisconnectReason
		text   string
	}{
		{"XFR 0 NS 10.0.0.1:1863 0 10.0.0.2:1863\r\n", ReasonConnectionLost, "10.0.0.1:1863"},
		{"OUT MIG\r\n", ReasonConnectionLost, "MIG"},
		{"OUT SSD\r\n", ReasonServerShutdown, "shutting down"},
		{"NOT 300000\r\n" + strings.Repeat("x", 300000), ReasonConnectionLost, "payload too large"},
	}
	for _, tt := range tests {
		p := newPipeSession(t, 11, nil)
		go p.send(tt.raw)
		evt := p.next(t)
		d, ok := evt.(*Disconnected)
		if !ok || d.Reason != tt.reason || d.Err == nil || !strings.Contains(d.Err.Error(), tt.text) {
			t.Errorf("%.20q: got %T %+v", tt.raw, evt, evt)
		}
		select {
		case evt := <-p.events:
			t.Errorf("%.20q: event after Disconnected: %T %+v", tt.raw, evt, evt)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestSYNListWithGroups(t *testing.T) {
	tests := []struct {
		version int
		reply   string
		groups  []Group
		bob     Contact
	}{
		{8, "SYN %s 5 3 2\r\nGTC A\r\nBLP AL\r\nPRP PHH 555%%201234\r\nLSG 0 Other%%20Contacts 0\r\nLSG 1 Friends 0\r\n" +
			"LST bob@example.com Bob%%20B 11 1\r\nBPR PHH 555%%209876\r\nLST carol@example.com carol@example.com 4 0\r\nLST dave@example.com Dave 8\r\n",
			[]Group{{ID: "0", Name: "Other Contacts"}, {ID: "1", Name: "Friends"}},
			Contact{Email: "bob@example.com", FriendlyName: "Bob B", Lists: 11, Groups: []string{"1"}}},
		{12, "SYN %s 2000-01-01T00:00:00.0-00:00 2000-01-01T00:00:00.0-00:00 3 1\r\nGTC A\r\nBLP AL\r\nPRP MFN Alice%%20A\r\n" +
			"LSG Friends 6a1c4e3d-0000\r\nLST N=bob@example.com F=Bob%%20B C=0f3e-1 11 1 6a1c4e3d-0000\r\n" +
			"LST N=carol@example.com F=carol@example.com 4 1 \r\nLST N=dave@example.com F=Dave 24 1 \r\n",
			[]Group{{ID: "6a1c4e3d-0000", Name: "Friends"}},
			Contact{Email: "bob@example.com", FriendlyName: "Bob B", ContactID: "0f3e-1", Lists: 11, Groups: []string{"6a1c4e3d-0000"}}},
	}
	for _, tt := range tests {
		p := newPipeSession(t, tt.version, nil)
		done := make(chan error, 1)
		go func() { done <- (&synOps{c: p.c, s: p.s}).load(context.Background()) }()
		_ = p.server.SetReadDeadline(time.Now().Add(10 * time.Second))
		cmd, err := p.r.ReadCommand()
		if err != nil || cmd.Name != "SYN" {
			t.Fatalf("MSNP%d: read SYN: %v %v", tt.version, cmd, err)
		}
		if want := len(p.s.d.synArgs) + 1; len(cmd.Args) != want {
			t.Errorf("MSNP%d: SYN has %d args, want %d", tt.version, len(cmd.Args), want)
		}
		go p.send(fmt.Sprintf(tt.reply, cmd.Arg(0)))
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := p.c.Groups(); fmt.Sprint(got) != fmt.Sprint(tt.groups) {
			t.Errorf("MSNP%d: groups %v", tt.version, got)
		}
		bob, _ := p.c.Contact("bob@example.com")
		if bob.FriendlyName != tt.bob.FriendlyName || bob.Lists != tt.bob.Lists || bob.ContactID != tt.bob.ContactID ||
			fmt.Sprint(bob.Groups) != fmt.Sprint(tt.bob.Groups) || bob.Status != StatusOffline {
			t.Errorf("MSNP%d: bob %+v", tt.version, bob)
		}
		if n := len(p.c.Contacts()); n != 3 {
			t.Errorf("MSNP%d: %d contacts", tt.version, n)
		}
		dave, _ := p.c.Contact("dave@example.com")
		if tt.version >= 11 && dave.Lists != ListReverse|ListPending {
			t.Errorf("MSNP%d: pending dave has lists %d", tt.version, dave.Lists)
		}
		if tt.version == 12 && p.c.FriendlyName() != "Alice A" {
			t.Errorf("own name %q", p.c.FriendlyName())
		}
	}
}
