package msnclient

import (
	"testing"
	"unicode/utf8"
)

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\nhello"))
	f.Add([]byte(nudgePayload))
	f.Add(buildTyping("a@b.c"))
	f.Add([]byte("Content-Type: text/x-msnmsgr-datacast\n\nID: 3\nData: x"))
	f.Fuzz(func(t *testing.T, payload []byte) {
		m := parseMessage(payload)
		for _, h := range m.Headers {
			if !utf8.ValidString(h.Value) || h.Name == "" {
				t.Fatalf("bad header %+v", h)
			}
		}
		if !utf8.ValidString(m.Text()) {
			t.Fatal("text is not valid UTF-8")
		}
		f := parseFormat(m.Get("X-MMS-IM-Format"))
		if !utf8.ValidString(f.Font) {
			t.Fatal("font is not valid UTF-8")
		}
		if f.Color > 0xffffff {
			t.Fatalf("color %x out of range", f.Color)
		}
		if got := parseFormat(formatHeader(f)); got != f {
			t.Fatalf("format does not round-trip: %+v vs %+v", f, got)
		}
		switch evt := messageEvent("a@b.c", "A", false, payload).(type) {
		case *MessageReceived:
			if !utf8.ValidString(evt.Message.Text) {
				t.Fatal("message text is not valid UTF-8")
			}
		case *Typing, *Nudge, *Datacast, *UnknownMessage:
		default:
			t.Fatalf("unexpected event %T", evt)
		}
	})
}
