package msntest

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLoginMSNP8(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice A")
	tc := dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP8", "CVR0") + " MSNP8")
	cvr(tc, "alice@example.com")
	id := tc.send("USR", "TWN", "I", "alice@example.com")
	tc.expect("USR " + id + " TWN S ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1")
	tok, err := tweenerLogin(t, s, "alice@example.com", "pass")
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 20 {
		t.Fatalf("ticket %q is not 20 characters", tok)
	}
	id = tc.send("USR", "TWN", "S", tok)
	tc.expect("USR " + id + " OK alice@example.com Alice%20A 1 0")
	msg := tc.expect("MSG Hotmail Hotmail")
	for _, want := range []string{"Content-Type: text/x-msmsgsprofile; charset=UTF-8\r\n", "MSPAuth: " + tok} {
		if !strings.Contains(string(msg.Payload), want) {
			t.Errorf("profile lacks %q:\n%s", want, msg.Payload)
		}
	}
	if strings.Contains(string(msg.Payload), "MPOPEnabled") {
		t.Error("MSNP8 profile has MPOPEnabled")
	}
	if err := tc.w.WriteCommand(mustCmd("PNG")); err != nil {
		t.Fatal(err)
	}
	tc.expect("QNG")
	if !s.IsOnline("alice@example.com") {
		t.Error("IsOnline false after login")
	}
	// The ticket is single use.
	tc2 := dial(t, s.NSAddr())
	tc2.expect("VER " + tc2.send("VER", "MSNP8") + " MSNP8")
	tc2.send("USR", "TWN", "I", "alice@example.com")
	tc2.expectName("USR")
	id = tc2.send("USR", "TWN", "S", tok)
	tc2.expect("911 " + id)
	tc2.expectClosed()
}

func TestLoginMSNP13GCF(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 13})
	id := tc.send("SYN", "0", "0")
	tc.expect("502 " + id)
}

func TestLoginMSNP15SSO(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, ticket := login(t, s, "alice@example.com", testLogin{dialect: 15})
	if !strings.HasPrefix(ticket, "t=") || !strings.HasSuffix(ticket, "&p=") {
		t.Errorf("ticket %q is not a compact ticket", ticket)
	}
	tc.sync()

	// MSNP15 allows omitting the MBI blob.
	tc2 := dial(t, s.NSAddr())
	tc2.expect("VER " + tc2.send("VER", "MSNP15") + " MSNP15")
	tc2.send("USR", "SSO", "I", "alice@example.com")
	tc2.expectName("GCF")
	tc2.expectName("USR")
	id := tc2.send("USR", "SSO", "S", ticket)
	tc2.expect("USR " + id + " OK alice@example.com 1 0")
	// ...which boots the first session.
	tc.expect("OUT OTH")
	tc.expectClosed()
}

func TestLoginMSNP18SSO(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	tc, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB0}"})
	tc.sync()

	// A bad MBI blob, or no machine GUID, fails with 911.
	for name, args := range map[string]func(ticket, secret, nonce string) []string{
		"bad blob": func(ticket, secret, nonce string) []string {
			return []string{"SSO", "S", ticket, "HAAAAAEAAAADZgAABIAAAAgAAAAUAAAASAAAAA==", "{F52973B6-C926-4BAD-9BA8-7C1E840E4AB1}"}
		},
		"no guid": func(ticket, secret, nonce string) []string {
			blob, err := mbi(secret, nonce)
			if err != nil {
				t.Fatal(err)
			}
			return []string{"SSO", "S", ticket, blob}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tc := dial(t, s.NSAddr())
			tc.expect("VER " + tc.send("VER", "MSNP18", "MSNP17") + " MSNP18")
			tc.send("USR", "SSO", "I", "alice@example.com")
			tc.expectName("GCF")
			usr := tc.expectName("USR")
			res := requestRST(t, s.HTTPURL(), http.DefaultClient, true, "alice@example.com", "pass")
			ticket := res.tickets["messengerclear.live.com"]
			id := tc.send("USR", args(ticket, res.secret, usr.Args[4])...)
			tc.expect("911 " + id)
			tc.expectClosed()
		})
	}
}

func TestBadCredentials(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")

	if _, err := tweenerLogin(t, s, "alice@example.com", "wrong"); err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "Passport1.4 da-status=failed") {
		t.Errorf("Tweener with a wrong password: %v, want 401 with da-status=failed", err)
	}
	for _, v2 := range []bool{false, true} {
		if res := requestRST(t, s.HTTPURL(), http.DefaultClient, v2, "alice@example.com", "wrong"); !res.fault {
			t.Errorf("RST (v2=%v) with a wrong password gave no fault", v2)
		}
	}

	// A ticket that does not exist.
	tc := dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP8") + " MSNP8")
	tc.send("USR", "TWN", "I", "alice@example.com")
	tc.expectName("USR")
	id := tc.send("USR", "TWN", "S", "0123456789abcdef0123")
	tc.expect("911 " + id)
	tc.expectClosed()

	// The email must match the registered one exactly (quirk 9).
	tok, err := tweenerLogin(t, s, "ALICE@example.com", "pass")
	if err != nil {
		t.Fatal(err)
	}
	tc = dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP11") + " MSNP11")
	tc.send("USR", "TWN", "I", "ALICE@example.com")
	tc.expectName("USR")
	id = tc.send("USR", "TWN", "S", tok)
	tc.expect("911 " + id)
	tc.expectClosed()
	if s.IsOnline("alice@example.com") {
		t.Error("online after failed logins")
	}
}

func TestTweenerTicketExpires(t *testing.T) {
	s := StartT(t, Options{TweenerTokenLifetime: time.Millisecond})
	mustAdd(t, s, "alice@example.com", "Alice")
	tok, err := tweenerLogin(t, s, "alice@example.com", "pass")
	if err != nil {
		t.Fatal(err)
	}
	tc := dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP9") + " MSNP9")
	tc.send("USR", "TWN", "I", "alice@example.com")
	tc.expectName("USR")
	time.Sleep(5 * time.Millisecond) // outlive the 1 ms lifetime; not synchronisation
	id := tc.send("USR", "TWN", "S", tok)
	tc.expect("911 " + id)
}

func TestVersionNegotiation(t *testing.T) {
	s := StartT(t, Options{})
	tc := dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP21", "MSNP12", "MSNP9", "CVR0") + " MSNP12")
	id := tc.send("VER", "MSNP12")
	tc.expect("715 " + id)
	tc.expectClosed()

	tc = dial(t, s.NSAddr())
	tc.expect("VER " + tc.send("VER", "MSNP7", "MSNP19") + " 0")
	tc.expectClosed()

	// PNG before login closes.
	tc = dial(t, s.NSAddr())
	tc.sendRaw("PNG\r\n")
	tc.expectClosed()
}

func TestTLS(t *testing.T) {
	s := StartT(t, Options{TLS: true})
	mustAdd(t, s, "alice@example.com", "Alice")
	if s.HTTPSURL() == "" || len(s.CACertPEM()) == 0 {
		t.Fatal("no HTTPS URL or CA")
	}
	// Without the CA the certificate is not trusted.
	if _, err := http.Get(s.HTTPSURL() + "/rdr/pprdr.asp"); err == nil {
		t.Fatal("HTTPS trusted without the CA")
	}
	client := httpsClient(t, s.CACertPEM())
	resp, err := client.Get(s.HTTPSURL() + "/rdr/pprdr.asp")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("PassportURLs"); got != "DALogin="+s.HTTPSURL()+"/login" {
		t.Errorf("PassportURLs = %q", got)
	}
	if res := requestRST(t, s.HTTPSURL(), client, false, "alice@example.com", "pass"); res.fault || res.secret == "" {
		t.Errorf("RST over HTTPS: %+v", res)
	}
}
