package bridge

import (
	"context"
	"strings"
	"testing"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func htmlContent(body, html string) *event.MessageEventContent {
	return &event.MessageEventContent{MsgType: event.MsgText, Body: body, Format: event.FormatHTML, FormattedBody: html}
}

func TestMatrixToMSN(t *testing.T) {
	tests := []struct {
		name    string
		content *event.MessageEventContent
		want    msnclient.TextMessage
	}{
		{"plain", &event.MessageEventContent{Body: "hello there"}, msnclient.TextMessage{Text: "hello there"}},
		{"plain with CRLF", &event.MessageEventContent{Body: "a\r\nb\rc"}, msnclient.TextMessage{Text: "a\nb\nc"}},
		{"plain drops control chars", &event.MessageEventContent{Body: "a\x00b\x07c\td"}, msnclient.TextMessage{Text: "abc\td"}},
		{"bold", htmlContent("**hi**", "<b>hi</b>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Bold: true}}},
		{"strong", htmlContent("**hi**", "<strong>hi</strong>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Bold: true}}},
		{"italic em", htmlContent("_hi_", "<em>hi</em>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Italic: true}}},
		{"underline", htmlContent("hi", "<u>hi</u>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Underline: true}}},
		{"strike del", htmlContent("~~hi~~", "<del>hi</del>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Strike: true}}},
		{"strike s", htmlContent("~~hi~~", "<s>hi</s>"), msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Strike: true}}},
		{
			"nested all", htmlContent("x", `<b><i><u><del><font color="#ff8000">all of it</font></del></u></i></b>`),
			msnclient.TextMessage{Text: "all of it", Format: msnclient.Format{Bold: true, Italic: true, Underline: true, Strike: true, Color: 0xff8000}},
		},
		{
			"data-mx-color span", htmlContent("x", `<span data-mx-color="#00ff00">green</span>`),
			msnclient.TextMessage{Text: "green", Format: msnclient.Format{Color: 0x00ff00}},
		},
		{
			"short colour", htmlContent("x", `<font color="#f00">red</font>`),
			msnclient.TextMessage{Text: "red", Format: msnclient.Format{Color: 0xff0000}},
		},
		{"bad colour ignored", htmlContent("x", `<font color="red">red</font>`), msnclient.TextMessage{Text: "red"}},
		{"mixed falls back to plain", htmlContent("x", "<b>bold</b> and plain"), msnclient.TextMessage{Text: "bold and plain"}},
		{"two bold runs are mixed", htmlContent("x", "<b>a</b> <b>b</b>"), msnclient.TextMessage{Text: "a b"}},
		{
			"partial colour is mixed", htmlContent("x", `<b>x <font color="#ff0000">red</font></b>`),
			msnclient.TextMessage{Text: "x red"},
		},
		{"link keeps url", htmlContent("x", `<a href="https://example.com/">site</a>`), msnclient.TextMessage{Text: "site (https://example.com/)"}},
		{"line breaks", htmlContent("x", "one<br>two"), msnclient.TextMessage{Text: "one\ntwo"}},
		{"entities", htmlContent("x", "&lt;b&gt; &amp;"), msnclient.TextMessage{Text: "<b> &"}},
		{"marker runes in input are removed", htmlContent("x", "<b>a\uE001b</b>"), msnclient.TextMessage{Text: "ab", Format: msnclient.Format{Bold: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := matrixToMSN(context.Background(), tt.content)
			if got != tt.want {
				t.Errorf("matrixToMSN() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestMSNToMatrix(t *testing.T) {
	tests := []struct {
		name     string
		msg      msnclient.TextMessage
		emoji    bool
		wantBody string
		wantHTML string
	}{
		{"plain", msnclient.TextMessage{Text: "hello"}, false, "hello", ""},
		{"black is not formatting", msnclient.TextMessage{Text: "hello", Format: msnclient.Format{Font: "Arial", Color: 0}}, false, "hello", ""},
		{"bold", msnclient.TextMessage{Text: "hi", Format: msnclient.Format{Bold: true}}, false, "hi", "<b>hi</b>"},
		{
			"everything", msnclient.TextMessage{Text: "a<b>\nc", Format: msnclient.Format{Bold: true, Italic: true, Underline: true, Strike: true, Color: 0x0000ff}},
			false, "a<b>\nc",
			`<b><i><u><del><font color="#0000ff" data-mx-color="#0000ff">a&lt;b&gt;<br/>c</font></del></u></i></b>`,
		},
		{"crlf", msnclient.TextMessage{Text: "a\r\nb"}, false, "a\nb", ""},
		{"emoticons kept as text", msnclient.TextMessage{Text: "hi :) (y)"}, false, "hi :) (y)", ""},
		{"emoticons to emoji", msnclient.TextMessage{Text: "hi :) (Y)! see http://x.y/:)z\n:D"}, true, "hi 🙂 👍! see http://x.y/:)z\n😃", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := msnToMatrix(tt.msg, tt.emoji)
			if got.Body != tt.wantBody || got.FormattedBody != tt.wantHTML {
				t.Errorf("msnToMatrix() = body %q html %q, want body %q html %q", got.Body, got.FormattedBody, tt.wantBody, tt.wantHTML)
			}
			if (tt.wantHTML != "") != (got.Format == event.FormatHTML) {
				t.Errorf("format = %q with html %q", got.Format, got.FormattedBody)
			}
			if got.MsgType != event.MsgText {
				t.Errorf("msgtype = %q", got.MsgType)
			}
		})
	}
}

// Uniform formatting survives MSN -> Matrix -> MSN unchanged.
func TestFormatRoundTrip(t *testing.T) {
	formats := []msnclient.Format{
		{}, {Bold: true}, {Italic: true, Underline: true}, {Strike: true, Color: 0x123456},
		{Bold: true, Italic: true, Underline: true, Strike: true, Color: 0xabcdef},
	}
	for _, f := range formats {
		in := msnclient.TextMessage{Text: "round <trip> & back\nline 2", Format: f}
		out := matrixToMSN(context.Background(), msnToMatrix(in, false))
		if out != in {
			t.Errorf("round trip of %+v gave %+v", in, out)
		}
	}
}

func TestCleanLine(t *testing.T) {
	if got := cleanLine("  my\r\nname \x00 here "); got != "my name here" {
		t.Errorf("cleanLine = %q", got)
	}
	if strings.ContainsAny(cleanText("a\r\nb\rc"), "\r") {
		t.Error("cleanText kept a CR")
	}
}

func BenchmarkMatrixToMSN(b *testing.B) {
	content := htmlContent("x", `<b><i><font color="#ff8000">`+strings.Repeat("some formatted words ", 50)+`</font></i></b>`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		matrixToMSN(ctx, content)
	}
}

func BenchmarkMSNToMatrix(b *testing.B) {
	msg := msnclient.TextMessage{Text: strings.Repeat("hello :) there (y) ", 50), Format: msnclient.Format{Bold: true, Color: 0xff0000}}
	b.ReportAllocs()
	for b.Loop() {
		msnToMatrix(msg, true)
	}
}

func TestGhostNameIsOneLine(t *testing.T) {
	m := &MSNClient{connector: &Connector{Config: Config{DisplaynameTemplate: "{{.FriendlyName}} (MSN)"}}}
	info := m.userInfo("Bob@X.com", "Bob\r\nThe\tBuil\x00der")
	if *info.Name != "Bob The Builder (MSN)" {
		t.Errorf("name = %q", *info.Name)
	}
	if len(info.Identifiers) != 1 || info.Identifiers[0] != "msn:bob@x.com" {
		t.Errorf("identifiers = %v", info.Identifiers)
	}
}
