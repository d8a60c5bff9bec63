package msntest

import (
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// storeCall posts an OIM store request; lockKey "" is the first attempt.
func storeCall(t *testing.T, s *Server, ticket, from, to, lockKey, content, seq string) (int, string) {
	t.Helper()
	body := `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Header>` +
		`<From memberName="` + from + `" friendlyName="=?utf-8?B?QWxpY2U=?=" xml:lang="en-US" proxy="MSNMSGR" xmlns="http://messenger.msn.com/ws/2004/09/oim/" msnpVer="MSNP15" buildVer="8.5.1302"/>` +
		`<To memberName="` + to + `" xmlns="http://messenger.msn.com/ws/2004/09/oim/"/>` +
		`<Ticket passport="` + esc(ticket) + `" appid="PROD0120PW!CCV9@" lockkey="` + lockKey + `" xmlns="http://messenger.msn.com/ws/2004/09/oim/"/>` +
		`<Sequence xmlns="http://schemas.xmlsoap.org/ws/2003/03/rm"><Identifier xmlns="http://schemas.xmlsoap.org/ws/2002/07/utility">http://messenger.msn.com</Identifier><MessageNumber>` + seq + `</MessageNumber></Sequence>` +
		`</soap:Header><soap:Body><MessageType xmlns="http://messenger.msn.com/ws/2004/09/oim/">text</MessageType><Content xmlns="http://messenger.msn.com/ws/2004/09/oim/">` + esc(content) + `</Content></soap:Body></soap:Envelope>`
	req, _ := http.NewRequest(http.MethodPost, s.HTTPURL()+"/OimWS/oim.asmx", strings.NewReader(body))
	req.Header.Set("SOAPAction", `"http://messenger.live.com/ws/2006/09/oim/Store2"`)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

func oimContent(text, seq string, lineLen int) string {
	enc := base64.StdEncoding.EncodeToString([]byte(text))
	var lines []string
	for len(enc) > lineLen {
		lines = append(lines, enc[:lineLen])
		enc = enc[lineLen:]
	}
	lines = append(lines, enc)
	return "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: base64\r\nX-OIM-Message-Type: OfflineMessage\r\n" +
		"X-OIM-Run-Id: {3A6B1C2D-4E5F-6071-8293-A4B5C6D7E8F9}\r\nX-OIM-Sequence-Num: " + seq + "\r\n\r\n" + strings.Join(lines, "\r\n")
}

// TestOIMStoreLikeEscargot: empty lock key => challenge; then stored; the
// recipient's MSNP11+ session is told at once; bad content is refused.
func TestOIMStoreLikeEscargot(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	_, ticket := login(t, s, "alice@example.com", testLogin{dialect: 15})
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 11})
	bob.send("CHG", "NLN", "0")
	bob.skipUntil("MSG") // the initial mail data, nothing waiting
	text := strings.Repeat("hello bob ", 20)

	status, body := storeCall(t, s, ticket, "alice@example.com", "bob@example.com", "", oimContent(text, "1", 76), "1")
	if status != 500 || !strings.Contains(body, "AuthenticationFailed") || !strings.Contains(body, "<LockKeyChallenge") || !strings.Contains(body, oimLockKeyChallenge) {
		t.Fatalf("first attempt: %d %s", status, body)
	}
	status, body = storeCall(t, s, ticket, "alice@example.com", "bob@example.com", "anything", oimContent(text, "1", 76), "1")
	if status != 200 || !strings.Contains(body, `AcknowledgmentRange Upper="1" Lower="1"`) {
		t.Fatalf("store: %d %s", status, body)
	}
	note := bob.expectName("MSG")
	if !strings.Contains(string(note.Payload), "text/x-msmsgsoimnotification") || !strings.Contains(string(note.Payload), "<F>.!!OIM</F>") ||
		!strings.Contains(string(note.Payload), "<SU> </SU>") || !strings.Contains(string(note.Payload), "=?utf-8?B?QWxpY2U= ?=") {
		t.Errorf("live notification: %q", note.Payload)
	}
	if got := s.OfflineMessages("bob@example.com"); len(got) != 1 || got[0].Text != text || got[0].From != "alice@example.com" {
		t.Fatalf("stored %+v", got)
	}
	for name, c := range map[string]struct{ from, content, seq string }{
		"line over 77":      {"alice@example.com", oimContent(text, "1", 90), "1"},
		"sequence mismatch": {"alice@example.com", oimContent(text, "2", 76), "1"},
		"not base64":        {"alice@example.com", strings.Replace(oimContent(text, "1", 76), "\r\n\r\n", "\r\n\r\n!!", 1), "1"},
		"not the sender":    {"bob@example.com", oimContent(text, "1", 76), "1"},
		"bad sequence":      {"alice@example.com", oimContent(text, "x", 76), "x"},
	} {
		if status, body := storeCall(t, s, ticket, c.from, "bob@example.com", "k", c.content, c.seq); status != 500 || !strings.Contains(body, "Fault.") {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}
	if len(s.OfflineMessages("bob@example.com")) != 1 {
		t.Error("a refused message was stored")
	}
}

// TestUUMLikeEscargot: MSNP18 UUM stores an offline message only for an
// offline recipient and only with Dest-Agent: client (quirk 38); no reply;
// MSNP<18 to network 1 is a disconnect.
func TestUUMLikeEscargot(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bob")
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 18, guid: "{f52973b6-c926-4bad-9ba8-7c1e840e4ab0}"})
	uum := func(headers, text string) {
		alice.sendPayload("UUM", []byte(headers+"\r\n"+text), "bob@example.com", "1", "1")
	}
	uum("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n", "dropped without Dest-Agent")
	uum("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nDest-Agent: client\r\n", "kept")
	alice.sync() // a PNG round trip: everything before it was handled
	got := s.OfflineMessages("bob@example.com")
	if len(got) != 1 || got[0].Text != "kept" {
		t.Fatalf("stored %+v, want only the one with Dest-Agent", got)
	}

	// bob online: UUM is not stored.
	bob, _ := login(t, s, "bob@example.com", testLogin{dialect: 18, guid: "{0b5e4f6a-1d2c-4e3f-8a9b-0c1d2e3f4a5b}"})
	bob.send("CHG", "NLN", "0:0")
	bob.skipUntil("CHG")
	uum("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nDest-Agent: client\r\n", "while online")
	alice.sync()
	if n := len(s.OfflineMessages("bob@example.com")); n != 1 {
		t.Errorf("%d stored after a UUM to an online contact", n)
	}

	old, _ := login(t, s, "bob@example.com", testLogin{dialect: 15})
	old.sendPayload("UUM", []byte("Dest-Agent: client\r\n\r\nx"), "alice@example.com", "1", "1")
	old.expectClosed()
}

// TestMailDataAtLogin: the first CHG of an MSNP11+ session lists the
// waiting messages in Escargot's form (over 25: too-large). GetMetadata,
// GetMessage and DeleteMessages are exercised through msnclient
// (ns_oim_test.go).
func TestMailDataAtLogin(t *testing.T) {
	s := StartT(t, Options{})
	mustAdd(t, s, "alice@example.com", "Alice")
	mustAdd(t, s, "bob@example.com", "Bób")
	at := time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)
	id, _ := s.StoreOfflineMessage("bob@example.com", "alice@example.com", "hi", at)
	alice, _ := login(t, s, "alice@example.com", testLogin{dialect: 13})
	alice.send("CHG", "NLN", "0")
	md := alice.skipUntil("MSG")
	want := "<E>bob@example.com</E><I>" + id + "</I><F>00000000-0000-0000-0000-000000000009</F><N>=?utf-8?B?QsOzYg==?=</N>"
	if !strings.Contains(string(md.Payload), "text/x-msmsgsinitialmdatanotification") || !strings.Contains(string(md.Payload), want) ||
		!strings.Contains(string(md.Payload), "<M><T>11</T><S>6</S><RT>2024-05-01T10:20:30Z</RT><RS>0</RS><SZ>") {
		t.Fatalf("initial mail data %q, want %q", md.Payload, want)
	}
	for i := 0; i < 25; i++ {
		_, _ = s.StoreOfflineMessage("bob@example.com", "alice@example.com", "more", time.Time{})
	}
	alice2, _ := login(t, s, "alice@example.com", testLogin{dialect: 13})
	alice2.send("CHG", "NLN", "0")
	if md := alice2.skipUntil("MSG"); !strings.Contains(string(md.Payload), "Mail-Data: too-large") {
		t.Fatalf("26 waiting: %q", md.Payload)
	}
}
