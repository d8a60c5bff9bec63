package msnclient

import (
	"sync"
	"testing"
	"time"
)

// TestHandleMailDataBadInput: truncated, malformed or hostile Mail-Data is
// logged and handed over as an incomplete list (the caller then asks the
// server with GetMetadata), never dropped; other Hotmail notifications and
// dialects without offline messages give nothing.
func TestHandleMailDataBadInput(t *testing.T) {
	const initial = "text/x-msmsgsinitialmdatanotification; charset=UTF-8"
	payload := func(md string) []byte {
		return []byte("MIME-Version: 1.0\r\nContent-Type: " + initial + "\r\n\r\nMail-Data: " + md + "\r\n\r\n")
	}
	cases := []struct {
		name     string
		version  int
		ct       string
		payload  []byte
		want     bool // an event
		complete bool
		n        int
	}{
		{"good", 15, initial, payload(`<MD><M><T>11</T><E>bob@example.com</E><I>A-1</I></M></MD>`), true, true, 1},
		{"nothing waiting", 15, initial, payload(`<MD><E><I>0</I></E></MD>`), false, false, 0},
		{"truncated", 15, initial, payload(`<MD><M><T>11</T><E>bob@exa`), true, false, 0},
		{"doctype", 15, initial, payload(`<!DOCTYPE MD [<!ENTITY x "y">]><MD/>`), true, false, 0},
		{"no Mail-Data", 15, initial, []byte("MIME-Version: 1.0\r\n\r\n"), true, false, 0},
		{"bad entry kept as incomplete", 18, "text/x-msmsgsoimnotification", payload(`<MD><M><T>11</T><E>bob@example.com</E><I>A 1</I></M></MD>`), true, false, 0},
		{"too-large", 13, initial, payload("too-large"), true, false, 0},
		{"MSNP10 has none", 10, initial, payload(`<MD><M><T>11</T><E>bob@example.com</E><I>A-1</I></M></MD>`), false, false, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var got []*OfflineMessagesWaiting
			c := NewClient(Config{Email: "me@example.com"}, func(evt any) {
				if e, ok := evt.(*OfflineMessagesWaiting); ok {
					mu.Lock()
					got = append(got, e)
					mu.Unlock()
				}
			})
			s := newSession(c, nil, mustDialect(t, tc.version))
			s.connected = true
			if !s.handleMailData(tc.ct, tc.payload) {
				t.Fatal("mail notification not recognised")
			}
			deadline := time.Now().Add(5 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n > 0 || !tc.want || time.Now().After(deadline) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			if !tc.want {
				if len(got) != 0 {
					t.Fatalf("got %+v, want no event", got[0])
				}
				return
			}
			if len(got) != 1 || got[0].Complete != tc.complete || len(got[0].Messages) != tc.n {
				t.Fatalf("got %+v, want one event complete=%v with %d messages", got, tc.complete, tc.n)
			}
		})
	}
}
