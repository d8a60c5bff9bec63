package msntest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// rawSB is a raw switchboard connection for protocol-level tests.
type rawSB struct {
	t    *testing.T
	conn net.Conn
	r    *msnp.Reader
	w    *msnp.Writer
}

func sbTestServer(t *testing.T) *Server {
	t.Helper()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for _, e := range []string{"alice@example.com", "bob@example.com", "carol@example.com"} {
		if err := s.AddAccount(e, "pw", strings.ToUpper(e[:1])+e[1:strings.IndexByte(e, '@')]); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func ident(email string, dialect int, guid string) sbIdentity {
	return sbIdentity{Email: email, FriendlyName: strings.ToUpper(email[:1]) + email[1:strings.IndexByte(email, '@')], MachineGUID: guid, Dialect: dialect, Caps: "2789003324:48"}
}

func (s *Server) testCookie(id sbIdentity, sessionID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newSbCookie(id, sessionID)
}

func dialSB(t *testing.T, s *Server) *rawSB {
	t.Helper()
	conn, err := net.Dial("tcp", s.SBAddr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawSB{t: t, conn: conn, r: msnp.NewReader(conn, msnp.FromServer), w: msnp.NewWriter(conn)}
}

func (c *rawSB) send(cmd *msnp.Command) {
	c.t.Helper()
	if err := c.w.WriteCommand(cmd); err != nil {
		c.t.Fatal(err)
	}
}

// expect reads one command and compares its line form.
func (c *rawSB) expect(want string) *msnp.Command {
	c.t.Helper()
	cmd, err := c.r.ReadCommand()
	if err != nil {
		c.t.Fatalf("waiting for %q: %v", want, err)
	}
	if got := cmd.String(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
	return cmd
}

func (c *rawSB) expectClosed() {
	c.t.Helper()
	for {
		cmd, err := c.r.ReadCommand()
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
				c.t.Fatalf("expected the server to close, got %v", err)
			}
			return
		}
		c.t.Logf("before close: %s", cmd)
	}
}

// usr opens a session as id and returns the connection and session id.
func usr(t *testing.T, s *Server, id sbIdentity, as string) (*rawSB, string) {
	t.Helper()
	c := dialSB(t, s)
	c.send(msnp.New("USR", "1", as, s.testCookie(id, "")))
	c.expect("USR 1 OK " + as + " " + id.FriendlyName)
	var sid string
	s.sb.mu.Lock()
	for k, sess := range s.sb.sessions {
		for _, x := range sess.conns {
			if x.id == as && x.ident == id {
				sid = k
			}
		}
	}
	s.sb.mu.Unlock()
	if len(sid) != 31 {
		t.Fatalf("session id %q", sid)
	}
	return c, sid
}

func TestSBJoinLinesMSNP18(t *testing.T) {
	s := sbTestServer(t)
	alice := ident("alice@example.com", 18, "aaaa")
	alice2 := ident("alice@example.com", 18, "a222")
	bob := ident("bob@example.com", 18, "bbbb")
	a, sid := usr(t, s, alice, "alice@example.com;{aaaa}")

	// Self-CAL quirk: RINGING and a JOI of ourselves.
	a.send(msnp.New("CAL", "2", "alice@example.com"))
	a.expect("CAL 2 RINGING " + sid)
	a.expect("JOI alice@example.com;{aaaa} Alice 2789003324:48")
	a.expect("JOI alice@example.com Alice 2789003324:48")

	b := dialSB(t, s)
	b.send(msnp.New("ANS", "1", "bob@example.com;{bbbb}", s.testCookie(bob, sid), sid))
	b.expect("IRO 1 1 2 alice@example.com;{aaaa} Alice 2789003324:48")
	b.expect("IRO 1 2 2 alice@example.com Alice 2789003324:48")
	b.expect("ANS 1 OK")
	b.expect("JOI bob@example.com;{bbbb} Bob 2789003324:48")
	b.expect("JOI bob@example.com Bob 2789003324:48")
	a.expect("JOI bob@example.com;{bbbb} Bob 2789003324:48")
	a.expect("JOI bob@example.com Bob 2789003324:48")

	// A second endpoint of alice: only the GUID line for bob, both for alice.
	a2 := dialSB(t, s)
	a2.send(msnp.New("ANS", "7", "alice@example.com;{a222}", s.testCookie(alice2, sid), sid))
	a.expect("JOI alice@example.com;{a222} Alice 2789003324:48")
	b.expect("JOI alice@example.com;{a222} Alice 2789003324:48")
	a2.expect("IRO 7 1 4 alice@example.com;{aaaa} Alice 2789003324:48")
	a2.expect("IRO 7 2 4 alice@example.com Alice 2789003324:48")
	a2.expect("IRO 7 3 4 bob@example.com;{bbbb} Bob 2789003324:48")
	a2.expect("IRO 7 4 4 bob@example.com Bob 2789003324:48")
	a2.expect("ANS 7 OK")
	a2.expect("JOI alice@example.com;{a222} Alice 2789003324:48")
	a2.expect("JOI alice@example.com Alice 2789003324:48")

	// Messages go to every other connection, the sender's other endpoint too.
	payload := []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nhi")
	a.send(msnp.NewPayload("MSG", payload, "3", "A"))
	a.expect("ACK 3")
	b.expect(fmt.Sprintf("MSG alice@example.com Alice <%d bytes>", len(payload)))
	a2.expect(fmt.Sprintf("MSG alice@example.com Alice <%d bytes>", len(payload)))

	// CAL errors.
	a.send(msnp.New("CAL", "4", "bob@example.com"))
	a.expect("215 4")
	a.send(msnp.New("CAL", "5", "carol@example.com"))
	a.expect("217 5")
	a.send(msnp.New("CAL", "6", "nobody"))
	a.expect("208 6")

	// Leaving: the GUID line, then the plain line for the last endpoint.
	a2.send(msnp.New("OUT"))
	a.expect("BYE alice@example.com;{a222}")
	b.expect("BYE alice@example.com;{a222}")
	a.send(msnp.New("OUT"))
	b.expect("BYE alice@example.com;{aaaa}")
	b.expect("BYE alice@example.com")
}

func TestSBJoinLinesOldDialects(t *testing.T) {
	s := sbTestServer(t)
	alice := ident("alice@example.com", 8, "")
	bob := ident("bob@example.com", 12, "")
	carol := ident("carol@example.com", 18, "cccc")
	a, sid := usr(t, s, alice, "alice@example.com")
	a.send(msnp.New("CAL", "2", "alice@example.com"))
	a.expect("215 2")

	b := dialSB(t, s)
	b.send(msnp.New("ANS", "1", "bob@example.com", s.testCookie(bob, sid), sid))
	b.expect("IRO 1 1 1 alice@example.com Alice 2789003324")
	b.expect("ANS 1 OK")
	a.expect("JOI bob@example.com Bob")

	c := dialSB(t, s)
	c.send(msnp.New("ANS", "1", "carol@example.com;{cccc}", s.testCookie(carol, sid), sid))
	c.expect("IRO 1 1 2 alice@example.com Alice 2789003324:48")
	c.expect("IRO 1 2 2 bob@example.com Bob 2789003324:48")
	c.expect("ANS 1 OK")
	a.expect("JOI carol@example.com Carol")
	b.expect("JOI carol@example.com Carol 2789003324")

	c.conn.Close()
	a.expect("BYE carol@example.com")
	b.expect("BYE carol@example.com")
}

func TestSBAuthFailures(t *testing.T) {
	s := sbTestServer(t)
	alice := ident("alice@example.com", 18, "aaaa")

	t.Run("cookie used twice", func(t *testing.T) {
		cookie := s.testCookie(alice, "")
		c := dialSB(t, s)
		c.send(msnp.New("USR", "1", "alice@example.com;{aaaa}", cookie))
		c.expect("USR 1 OK alice@example.com;{aaaa} Alice")
		c2 := dialSB(t, s)
		c2.send(msnp.New("USR", "1", "alice@example.com;{aaaa}", cookie))
		c2.expect("911 1")
		c2.expectClosed()
	})
	t.Run("email case differs", func(t *testing.T) {
		c := dialSB(t, s)
		c.send(msnp.New("USR", "1", "Alice@example.com;{aaaa}", s.testCookie(alice, "")))
		c.expect("911 1")
		c.expectClosed()
	})
	t.Run("wrong guid", func(t *testing.T) {
		c := dialSB(t, s)
		c.send(msnp.New("USR", "1", "alice@example.com;{ffff}", s.testCookie(alice, "")))
		c.expect("911 1")
		c.expectClosed()
	})
	t.Run("extra parameter", func(t *testing.T) {
		c := dialSB(t, s)
		c.send(msnp.New("USR", "1", "alice@example.com", s.testCookie(alice, ""), "x"))
		c.expectClosed()
	})
	t.Run("ANS with a session id not matching the cookie", func(t *testing.T) {
		_, sid := usr(t, s, alice, "alice@example.com;{aaaa}")
		c := dialSB(t, s)
		c.send(msnp.New("ANS", "1", "bob@example.com", s.testCookie(ident("bob@example.com", 8, ""), sid), "0123"))
		c.expectClosed()
	})
	t.Run("expired cookie", func(t *testing.T) {
		cookie := s.testCookie(alice, "")
		s.mu.Lock()
		s.sbCookies[cookie].expires = time.Now().Add(-time.Second)
		s.mu.Unlock()
		c := dialSB(t, s)
		c.send(msnp.New("USR", "1", "alice@example.com;{aaaa}", cookie))
		c.expect("911 1")
		c.expectClosed()
	})
}

func TestSBMessageLimitsAndAckModes(t *testing.T) {
	s := sbTestServer(t)
	a, b := aliceAndBobOnSB(t, s)

	msg := func(n int) []byte {
		head := "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n"
		return []byte(head + strings.Repeat("x", n-len(head)))
	}
	a.send(msnp.NewPayload("MSG", msg(1664), "2", "A"))
	a.expect("ACK 2")
	b.expect("MSG alice@example.com Alice <1664 bytes>")
	a.send(msnp.NewPayload("MSG", msg(60), "3", "N"))
	a.send(msnp.NewPayload("MSG", msg(61), "4", "U"))
	a.send(msnp.NewPayload("MSG", msg(62), "5", "D"))
	a.expect("ACK 5") // nothing for N and U
	b.expect("MSG alice@example.com Alice <60 bytes>")
	b.expect("MSG alice@example.com Alice <61 bytes>")
	b.expect("MSG alice@example.com Alice <62 bytes>")

	s.SetSwitchboardAck(AckNAK)
	a.send(msnp.NewPayload("MSG", msg(63), "6", "A"))
	a.expect("NAK 6")
	s.SetSwitchboardAck(AckNormal)

	p2p := []byte("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: bob@example.com\r\n\r\n" + strings.Repeat("\x00", 52))
	b.send(msnp.NewPayload("MSG", p2p, "2", "D"))
	b.expect("ACK 2")
	a.expect(fmt.Sprintf("MSG bob@example.com Bob <%d bytes>", len(p2p)))

	a.send(msnp.NewPayload("MSG", msg(1665), "7", "A"))
	a.expectClosed()
	b.expect("BYE alice@example.com")

	b.send(msnp.NewPayload("MSG", p2p, "3", "N")) // P2P not in mode D
	b.expectClosed()
}
