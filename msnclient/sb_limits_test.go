package msnclient

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// A switchboard line announcing a payload far beyond what MSN relays ends
// the connection at once, instead of reading (and buffering) it.
func TestSBOversizedPayloadDropsConnection(t *testing.T) {
	_, srv, sb := joinScripted(t, Config{Email: "me@example.com"})
	srv.write("MSG bob@example.com Bob " + "100000" + "\r\n")
	select {
	case <-sb.done:
	case <-time.After(30 * time.Second):
		t.Fatal("switchboard still open after a 100000-byte payload announcement")
	}
	// Within the limit (a full 1664-byte message with a long relayed
	// header) is fine.
	_, srv2, sb2 := joinScripted(t, Config{Email: "me@example.com"})
	payload := "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + strings.Repeat("x", 1700)
	srv2.write("MSG bob@example.com Bob " + strconv.Itoa(len(payload)) + "\r\n" + payload)
	srv2.write("JOI carol@example.com Carol\r\n")
	deadline := time.Now().Add(30 * time.Second)
	for len(sb2.Participants()) < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if sb2.isClosed() || len(sb2.Participants()) != 2 {
		t.Error("a message of normal size broke the switchboard")
	}
}

// Disconnecting with many switchboards whose server stopped reading takes
// one close deadline, not one per switchboard.
func TestCloseAllSharesOneDeadline(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com"}, nil)
	c.sb.closeTimeout = 300 * time.Millisecond
	const n = 10
	var peers []net.Conn
	for range n {
		local, remote := net.Pipe() // nobody reads remote: every write blocks
		peers = append(peers, remote)
		sb := newSBConn(c.sb, local)
		if err := c.sb.add(sb, c.sb.generation()); err != nil {
			t.Fatal(err)
		}
		sb.start()
	}
	t.Cleanup(func() {
		for _, p := range peers {
			p.Close()
		}
	})
	start := time.Now()
	c.sb.closeAll()
	if took := time.Since(start); took > n*c.sb.closeTimeout/2 {
		t.Errorf("closing %d switchboards took %s; one deadline is %s", n, took, c.sb.closeTimeout)
	}
}

// CHL is answered off the reader goroutine: a server that is slow to read
// the QRY does not stop the session from reading.
func TestChallengeDoesNotBlockReader(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com"}, nil)
	local, remote := net.Pipe()
	defer local.Close()
	defer remote.Close()
	log := zerolog.Nop()
	d, err := dialectFor(18)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(c, newNSConn(local, &log, time.Minute), d)
	handled := make(chan struct{})
	go func() {
		s.handle(msnp.New("CHL", "0", "29409134351025259292"))
		close(handled)
	}()
	select {
	case <-handled:
	case <-time.After(10 * time.Second):
		t.Fatal("handling CHL blocked on writing the answer")
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		cmd, err := msnp.NewReader(remote, msnp.FromClient).ReadCommand()
		if err != nil || cmd.Name != "QRY" {
			t.Errorf("server read %v, %v; want QRY", cmd, err)
		}
	}()
	wg.Wait()
}

// Close signs out within the close timeout even when the notification
// server stopped reading (the OUT write is not bounded by the much longer
// request timeout).
func TestCloseBoundedWhenServerStopsReading(t *testing.T) {
	c := NewClient(Config{Email: "me@example.com", RequestTimeout: 10 * time.Minute}, nil)
	c.sb.closeTimeout = 300 * time.Millisecond
	local, remote := net.Pipe() // nobody reads remote
	defer remote.Close()
	log := zerolog.Nop()
	d, err := dialectFor(18)
	if err != nil {
		t.Fatal(err)
	}
	s := newSession(c, newNSConn(local, &log, 10*time.Minute), d)
	c.mu.Lock()
	c.sess = s
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		_ = c.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Close blocked on a server that does not read")
	}
}
