package msntest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func TestPingsAndFailNext(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 12})
	tc.sendRaw("PNG\r\n")
	tc.expect("QNG 60")

	s.SetAnswerPings(false)
	tc.sendRaw("PNG\r\n")
	id := tc.send("URL", "INBOX")
	tc.expect("URL " + id + " /unused1 /unused2 1") // no QNG before it
	s.SetAnswerPings(true)
	tc.sendRaw("PNG\r\n")
	tc.expect("QNG 60")

	s.FailNext("PRP", 500)
	id = tc.send("PRP", "MFN", "New")
	tc.expect("500 " + id)
	if s.FriendlyName("alice@example.com") != "Alice" {
		t.Error("failed PRP changed the name")
	}
	id = tc.send("PRP", "MFN", "New")
	tc.expect("PRP " + id + " MFN New")

	// XFR SB before the first CHG is refused.
	id = tc.send("XFR", "SB")
	tc.expect("913 " + id)
	chg(t, tc, "NLN", "0")
	id = tc.send("XFR", "SB")
	xfr := tc.expectName("XFR")
	if len(xfr.Args) != 5 || xfr.Args[0] != id || xfr.Args[2] != s.SBAddr() || xfr.Args[3] != "CKI" || len(xfr.Args[4]) != 20 {
		t.Errorf("XFR reply %q", lineOf(xfr))
	}
	ident, sid, ok := s.redeemSBCookie(xfr.Args[4])
	if !ok || sid != "" || ident.Email != "alice@example.com" || ident.FriendlyName != "New" || ident.Dialect != 12 {
		t.Errorf("cookie identity %+v %q %v", ident, sid, ok)
	}
	if _, _, ok := s.redeemSBCookie(xfr.Args[4]); ok {
		t.Error("cookie redeemed twice")
	}

	// Unknown and malformed commands are ignored.
	tc.sendRaw("ZZZ 9 whatever\r\nnot a command\r\n")
	tc.sync()
}

func TestDropAndOUT(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 15})
	if err := s.WaitOnline(ctx, "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	s.DropConnections("alice@example.com")
	if lines := tc.expectClosed(); len(lines) != 0 {
		t.Errorf("dropped connection got %q", lines)
	}
	if s.IsOnline("alice@example.com") {
		t.Error("online after DropConnections")
	}

	tc, _ = login(t, s, "alice@example.com", testLogin{dialect: 15})
	s.SendOUT("alice@example.com", "SSD")
	if lines := tc.expectClosed(); len(lines) != 1 || lines[0] != "OUT SSD" {
		t.Errorf("got %q, want OUT SSD", lines)
	}

	a, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{aaaaaaaa-0000-0000-0000-000000000001}"})
	b, _ := login(t, s, "bob@example.com", testLogin{dialect: 9})
	s.Shutdown()
	for _, tc := range []*tconn{a, b} {
		if lines := tc.expectClosed(); len(lines) != 1 || lines[0] != "OUT SSD" {
			t.Errorf("got %q, want OUT SSD", lines)
		}
	}
}

func TestSetDelay(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 12})
	const d = 200 * time.Millisecond
	s.SetDelay(d)
	start := time.Now()
	tc.sendRaw("PNG\r\n")
	tc.expect("QNG 60")
	if el := time.Since(start); el < d {
		t.Errorf("reply after %v, want at least %v", el, d)
	}
	s.SetDelay(0)
}

func TestMicrosoftMode(t *testing.T) {
	s := StartT(t, Options{Microsoft: true})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mutual(t, s, "alice@example.com", "bob@example.com")

	for _, dialect := range []int{9, 13} {
		d := dial(t, s.NSAddr())
		ver := "MSNP" + itoa(dialect)
		d.expect("VER " + d.send("VER", ver) + " " + ver)
		id := d.send("USR", "TWN", "I", "alice@example.com")
		xfr := d.expectName("XFR")
		want := "XFR " + id + " NS " + s.nsRealLn.Addr().String() + " 0 " + s.NSAddr()
		if dialect >= 13 {
			want = "XFR " + id + " NS " + s.nsRealLn.Addr().String() + " U D"
		}
		if lineOf(xfr) != want {
			t.Errorf("MSNP%d: %q, want %q", dialect, lineOf(xfr), want)
		}
		d.expectClosed()
	}

	loginMS := func(email string, dialect int) (*tconn, string) {
		t.Helper()
		tc := dial(t, s.nsRealLn.Addr().String())
		ver := "MSNP" + itoa(dialect)
		tc.expect("VER " + tc.send("VER", ver) + " " + ver)
		tc.send("USR", "TWN", "I", email)
		tc.expectName("USR")
		tok, err := tweenerLogin(t, s, email, "pass")
		if err != nil {
			t.Fatal(err)
		}
		tc.send("USR", "TWN", "S", tok)
		tc.expectName("USR")
		if dialect >= 11 {
			tc.expect("SBS 0 null")
		}
		tc.expect("MSG Hotmail Hotmail")
		chl := tc.expectName("CHL")
		if chl.Arg(0) != "0" || len(chl.Arg(1)) != 20 || strings.Trim(chl.Arg(1), "0123456789") != "" {
			t.Fatalf("bad challenge %q", lineOf(chl))
		}
		return tc, chl.Arg(1)
	}

	tc, chal := loginMS("alice@example.com", 9)
	id, resp := msnp.ChallengeResponse(9, chal)
	qid := tc.sendPayload("QRY", []byte(resp), id)
	tc.expect("QRY " + qid)

	tc2, chal := loginMS("bob@example.com", 11)
	id, _ = msnp.ChallengeResponse(11, chal)
	qid = tc2.sendPayload("QRY", []byte(strings.Repeat("0", 32)), id)
	tc2.expect("540 " + qid)
	tc2.expectClosed()
}

func TestMicrosoftMSNP18UsesILN(t *testing.T) {
	s := StartT(t, Options{Microsoft: true})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	mutual(t, s, "alice@example.com", "bob@example.com")
	real := s.nsRealLn.Addr().String() // skip the dispatch redirect
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 18, guid: "{bbbbbbbb-0000-0000-0000-000000000001}", addr: real})
	bob.expectName("CHL")
	chg(t, bob, "NLN", "0:0")
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{aaaaaaaa-0000-0000-0000-000000000001}", addr: real})
	alice.expectName("CHL")
	lines := chg(t, alice, "NLN", "0:0")
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "ILN ") || !strings.Contains(lines[0], " 1:bob@example.com ") {
		t.Errorf("initial presence %q, want ILN first", lines)
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "NLN") {
			t.Errorf("Microsoft mode echoed own NLN: %q", l)
		}
	}
}
