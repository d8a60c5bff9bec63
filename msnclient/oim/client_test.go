package oim

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

const challengeFault = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><soap:Fault><faultcode xmlns:q0="http://messenger.msn.com/ws/2004/09/oim/">q0:AuthenticationFailed</faultcode><faultstring>Exception</faultstring><detail><TweenerChallenge xmlns="http://messenger.msn.com/ws/2004/09/oim/">ct=1</TweenerChallenge><LockKeyChallenge xmlns="http://messenger.msn.com/ws/2004/09/oim/">1850937852</LockKeyChallenge></detail></soap:Fault></soap:Body></soap:Envelope>`

const storeOK = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><StoreResponse xmlns="http://messenger.live.com/ws/2006/09/oim/"><PointsConsumed>0</PointsConsumed></StoreResponse></soap:Body></soap:Envelope>`

// fakeStore accepts only the right lock key (or, with never, none).
func fakeStore(t *testing.T, never bool) (*Client, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var bodies []string
	p := msnp.ProductFor(15)
	want := msnp.ChallengeMSNP11("1850937852", p.ID, p.Key)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, string(b))
		mu.Unlock()
		if never || !strings.Contains(string(b), `lockkey="`+want+`"`) {
			w.WriteHeader(500)
			io.WriteString(w, challengeFault)
			return
		}
		if r.Header.Get("SOAPAction") != `"http://messenger.live.com/ws/2006/09/oim/Store2"` {
			t.Errorf("SOAPAction %q", r.Header.Get("SOAPAction"))
		}
		io.WriteString(w, storeOK)
	}))
	t.Cleanup(srv.Close)
	c, err := New(Config{HTTPClient: srv.Client(), URL: srv.URL, Email: "alice@example.com", Version: 15, ClientBuild: "8.5.1302",
		Ticket: func() string { return "t=tok&p=" }, FriendlyName: func() string { return "Alice <&>\r\n" }})
	if err != nil {
		t.Fatal(err)
	}
	return c, &bodies
}

func TestStoreLockKey(t *testing.T) {
	c, bodies := fakeStore(t, false)
	ctx := context.Background()
	if err := c.Store(ctx, Message{To: "bob@example.com", Text: "hi", RunID: NewRunID(), Sequence: 1}); err != nil {
		t.Fatal(err)
	}
	if len(*bodies) != 2 {
		t.Fatalf("%d requests, want the first without a lock key and one answering the challenge", len(*bodies))
	}
	if !strings.Contains((*bodies)[0], `lockkey=""`) {
		t.Error("first request carried a lock key")
	}
	// The key is kept: the next message needs one request.
	if err := c.Store(ctx, Message{To: "bob@example.com", Text: "again", RunID: NewRunID(), Sequence: 1}); err != nil {
		t.Fatal(err)
	}
	if len(*bodies) != 3 {
		t.Fatalf("%d requests, want the lock key reused", len(*bodies))
	}
	if !strings.Contains((*bodies)[0], `friendlyName="=?utf-8?B?`) || strings.Contains((*bodies)[0], "\r\n\"") {
		t.Errorf("friendly name not RFC 2047 encoded: %s", (*bodies)[0])
	}
}

func TestStoreLockKeyRefused(t *testing.T) {
	c, bodies := fakeStore(t, true)
	err := c.Store(context.Background(), Message{To: "bob@example.com", Text: "hi", RunID: NewRunID(), Sequence: 1})
	if !errors.Is(err, ErrLockKey) || !IsFault(err, FaultAuthenticationFailed) {
		t.Fatalf("err = %v, want ErrLockKey", err)
	}
	if len(*bodies) != 2 {
		t.Fatalf("%d requests, want exactly one retry", len(*bodies))
	}
}

func TestContent(t *testing.T) {
	text := strings.Repeat("é", 300)
	content := Content(Message{Text: text, RunID: "{R}", Sequence: 2})
	head, body, _ := strings.Cut(content, "\r\n\r\n")
	for _, h := range []string{"MIME-Version: 1.0", "Content-Transfer-Encoding: base64", "X-OIM-Message-Type: OfflineMessage", "X-OIM-Run-Id: {R}", "X-OIM-Sequence-Num: 2"} {
		if !strings.Contains(head, h) {
			t.Errorf("missing %q", h)
		}
	}
	for _, line := range strings.Split(strings.TrimRight(body, "\r\n"), "\r\n") {
		if len(line) > 76 {
			t.Fatalf("base64 line of %d characters", len(line))
		}
	}
	if len(Content(Message{Text: strings.Repeat("x", MaxText), RunID: NewRunID(), Sequence: 16})) > 1664 {
		t.Error("a full message exceeds 1,664 bytes")
	}
	c, _ := fakeStore(t, false)
	if err := c.Store(context.Background(), Message{To: "b@c.d", Text: strings.Repeat("x", MaxText+1), RunID: "r", Sequence: 1}); err == nil {
		t.Error("over-long text accepted")
	}
}
