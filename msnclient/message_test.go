package msnclient

import (
	"bytes"
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	payload := []byte("mime-version: 1.0\r\nCONTENT-TYPE: Text/Plain; charset=UTF-8\r\nx-mms-im-format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\nno colon line\r\n: empty name\r\n\r\nline one\r\nline two\xff")
	m := parseMessage(payload)
	if got := m.ContentType(); got != "text/plain" {
		t.Errorf("content type %q", got)
	}
	if got := m.Get("X-MMS-IM-Format"); got != "FN=Arial; EF=B; CO=ff; CS=0; PF=22" {
		t.Errorf("format header %q", got)
	}
	if got := m.Text(); got != "line one\nline two\uFFFD" {
		t.Errorf("text %q", got)
	}
	if len(m.Headers) != 3 {
		t.Errorf("headers %+v", m.Headers)
	}
}

func TestParseMessageOddShapes(t *testing.T) {
	tests := []struct {
		in, ct, text string
	}{
		{"", "text/plain", ""},
		{"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n", "text/x-msmsgscontrol", "\n"},
		{"Content-Type: text/plain\n\nbare LF", "text/plain", "bare LF"},
		{"Content-Type: application/x-msnmsgrp2p\r\nP2P-Dest: a@b.c", "application/x-msnmsgrp2p", ""},
		{"just text without headers", "text/plain", ""},
	}
	for _, tt := range tests {
		m := parseMessage([]byte(tt.in))
		if m.ContentType() != tt.ct || m.Text() != tt.text {
			t.Errorf("parseMessage(%q): ct %q text %q", tt.in, m.ContentType(), m.Text())
		}
	}
}

func TestMessageEvent(t *testing.T) {
	text := string(buildTextHeader(Format{Font: "Arial", Bold: true, Color: 0x0000ff})) + "hello\r\nworld"
	evt, ok := messageEvent("bob@example.com", "Bob", false, []byte(text)).(*MessageReceived)
	if !ok {
		t.Fatalf("text gave %T", evt)
	}
	if evt.Message.Text != "hello\nworld" || evt.From != "bob@example.com" || evt.FromName != "Bob" || evt.FromSelf {
		t.Errorf("text event %+v", evt)
	}
	if evt.Message.Format != (Format{Font: "Arial", Bold: true, Color: 0x0000ff}) {
		t.Errorf("format %+v", evt.Message.Format)
	}
	if !strings.Contains(text, "CO=ff0000") {
		t.Errorf("blue should be CO=ff0000 on the wire: %q", text)
	}

	self, _ := messageEvent("me@example.com", "Me", true, []byte(text)).(*MessageReceived)
	if self == nil || !self.FromSelf {
		t.Errorf("MPOP echo not marked FromSelf: %+v", self)
	}

	typing, ok := messageEvent("bob@example.com", "Bob", false, buildTyping("Bob@Example.com")).(*Typing)
	if !ok || typing.From != "bob@example.com" {
		t.Errorf("typing gave %+v", typing)
	}
	if evt := messageEvent("me@example.com", "Me", true, buildTyping("me@example.com")); evt != nil {
		t.Errorf("own typing gave %T", evt)
	}

	nudge, ok := messageEvent("bob@example.com", "Bob", false, []byte(nudgePayload)).(*Nudge)
	if !ok || nudge.From != "bob@example.com" {
		t.Errorf("nudge gave %+v", nudge)
	}

	wink := "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 2\r\nData: <msnobj Type=\"8\"/>\r\n\r\n"
	dc, ok := messageEvent("bob@example.com", "Bob", false, []byte(wink)).(*Datacast)
	if !ok || dc.ID != 2 || !bytes.Contains(dc.Data, []byte("msnobj")) {
		t.Errorf("wink gave %+v", dc)
	}

	for _, ct := range []string{"text/x-mms-emoticon", "application/x-msnmsgrp2p", "text/x-msmsgsinvite; charset=UTF-8"} {
		raw := "MIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\nbody"
		um, ok := messageEvent("bob@example.com", "Bob", false, []byte(raw)).(*UnknownMessage)
		if !ok || !strings.HasPrefix(ct, um.ContentType) || string(um.Raw) != raw {
			t.Errorf("%s gave %+v", ct, um)
		}
	}
	bad := "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: x\r\n\r\n"
	if _, ok := messageEvent("bob@example.com", "Bob", false, []byte(bad)).(*UnknownMessage); !ok {
		t.Errorf("datacast without numeric id not reported as unknown")
	}
}

func TestBuildHeadersCannotInject(t *testing.T) {
	typing := buildTyping("a@b.c\r\nContent-Type: text/plain\r\n\r\nhi")
	if m := parseMessage(typing); len(m.Headers) != 3 || m.ContentType() != ctControl || len(bytes.TrimSpace(m.Body)) != 0 {
		t.Errorf("typing header injected: %q", typing)
	}
	header := string(buildTextHeader(Format{Font: "Evil\r\n\r\nX-Injected: yes"}))
	if strings.Count(header, "\r\n") != 4 || strings.Contains(header, "\r\nX-Injected") {
		t.Errorf("font name injected a header: %q", header)
	}
}

func TestNormalizeText(t *testing.T) {
	if got := normalizeText("a\nb\r\nc\rd\x00e\xff"); got != "a\r\nb\r\nc\r\nde\uFFFD" {
		t.Errorf("normalizeText = %q", got)
	}
}
