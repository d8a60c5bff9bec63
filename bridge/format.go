package bridge

import (
	"context"
	"fmt"
	"html"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/format"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// MSN formats a whole message at once (X-MMS-IM-Format: bold, italic,
// underline, strike, one colour). These pure functions convert between that
// and Matrix HTML: uniform whole-message formatting converts both ways, mixed
// formatting from Matrix becomes plain text.

// Private-use runes mark formatting while parsing Matrix HTML. They are
// removed from the input first, so user text cannot fake them.
const (
	mkBoldOpen    = '\uE000'
	mkBoldClose   = '\uE001'
	mkItalicOpen  = '\uE002'
	mkItalicClose = '\uE003'
	mkUnderOpen   = '\uE004'
	mkUnderClose  = '\uE005'
	mkStrikeOpen  = '\uE006'
	mkStrikeClose = '\uE007'
	mkColorOpen   = '\uE008' // followed by "#rrggbb" and mkColorEnd
	mkColorEnd    = '\uE009'
	mkColorClose  = '\uE00A'
	mkFirst       = mkBoldOpen
	mkLast        = mkColorClose
)

func isMarker(r rune) bool { return r >= mkFirst && r <= mkLast }

func stripMarkers(s string) string {
	if !strings.ContainsFunc(s, isMarker) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if isMarker(r) {
			return -1
		}
		return r
	}, s)
}

func wrap(open, close rune) format.TextConverter {
	return func(s string, _ format.Context) string {
		return string(open) + s + string(close)
	}
}

var msnHTMLParser = &format.HTMLParser{
	TabsToSpaces:           4,
	Newline:                "\n",
	HorizontalLine:         "\n---\n",
	PillConverter:          format.DefaultPillConverter,
	BoldConverter:          wrap(mkBoldOpen, mkBoldClose),
	ItalicConverter:        wrap(mkItalicOpen, mkItalicClose),
	UnderlineConverter:     wrap(mkUnderOpen, mkUnderClose),
	StrikethroughConverter: wrap(mkStrikeOpen, mkStrikeClose),
	ColorConverter: func(s, fg, _ string, _ format.Context) string {
		if _, ok := parseHexColor(fg); !ok {
			return s
		}
		return string(mkColorOpen) + fg + string(mkColorEnd) + s + string(mkColorClose)
	},
}

// matrixToMSN converts a Matrix text message to MSN text with whole-message
// formatting. Mixed formatting falls back to plain text.
func matrixToMSN(ctx context.Context, content *event.MessageEventContent) msnclient.TextMessage {
	if content.Format != event.FormatHTML || content.FormattedBody == "" {
		return msnclient.TextMessage{Text: cleanText(content.Body)}
	}
	parsed := msnHTMLParser.Parse(stripMarkers(content.FormattedBody), format.NewContext(ctx))
	text, f := peelFormatting(parsed)
	return msnclient.TextMessage{Text: cleanText(text), Format: f}
}

// peelFormatting removes formatting that covers the whole text and returns
// it as a Format. If formatting remains inside, the message is mixed and the
// result is the plain text with no formatting.
func peelFormatting(s string) (string, msnclient.Format) {
	var f msnclient.Format
	s = strings.TrimSpace(s)
	for {
		open, _ := utf8.DecodeRuneInString(s)
		if !isMarker(open) || !wrapsWhole(s) {
			break
		}
		closeLen := utf8.RuneLen(mkColorClose) // all markers have the same length
		inner := s[utf8.RuneLen(open) : len(s)-closeLen]
		switch open {
		case mkBoldOpen:
			f.Bold = true
		case mkItalicOpen:
			f.Italic = true
		case mkUnderOpen:
			f.Underline = true
		case mkStrikeOpen:
			f.Strike = true
		case mkColorOpen:
			end := strings.IndexRune(inner, mkColorEnd)
			if end < 0 {
				return stripColorSpecs(s), msnclient.Format{}
			}
			if color, ok := parseHexColor(inner[:end]); ok {
				f.Color = color
			}
			inner = inner[end+utf8.RuneLen(mkColorEnd):]
		default:
			return stripColorSpecs(s), msnclient.Format{}
		}
		s = strings.TrimSpace(inner)
	}
	if strings.ContainsFunc(s, isMarker) {
		return stripColorSpecs(s), msnclient.Format{}
	}
	return s, f
}

// wrapsWhole reports whether the marker opening s is closed by the last rune.
func wrapsWhole(s string) bool {
	depth := 0
	for i, r := range s {
		switch r {
		case mkBoldOpen, mkItalicOpen, mkUnderOpen, mkStrikeOpen, mkColorOpen:
			depth++
		case mkBoldClose, mkItalicClose, mkUnderClose, mkStrikeClose, mkColorClose:
			depth--
			if depth == 0 {
				return i+utf8.RuneLen(r) == len(s) && matchingClose(s, r)
			}
		}
	}
	return false
}

// matchingClose checks the closing marker pairs with the opening one.
func matchingClose(s string, closeRune rune) bool {
	open, _ := utf8.DecodeRuneInString(s)
	if open == mkColorOpen {
		return closeRune == mkColorClose
	}
	return closeRune == open+1
}

// stripColorSpecs removes markers and the colour values they carry.
func stripColorSpecs(s string) string {
	var sb strings.Builder
	inSpec := false
	for _, r := range s {
		switch {
		case r == mkColorOpen:
			inSpec = true
		case r == mkColorEnd:
			inSpec = false
		case inSpec, isMarker(r):
		default:
			sb.WriteRune(r)
		}
	}
	return sb.String()
}

func parseHexColor(s string) (uint32, bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(s) == 3 {
		s = string([]byte{s[0], s[0], s[1], s[1], s[2], s[2]})
	}
	if len(s) != 6 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// cleanText normalises line endings to CRLF-free "\n" and drops control
// characters other than newline and tab. msnclient frames the text, so CR/LF
// cannot inject protocol lines; this keeps messages tidy.
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' || !unicode.IsControl(r) {
			return r
		}
		return -1
	}, s)
}

// msnToMatrix converts an MSN text message to Matrix content. Uniform
// formatting becomes HTML; emoticons become emoji when asked.
func msnToMatrix(msg msnclient.TextMessage, emoji bool) *event.MessageEventContent {
	text := cleanText(msg.Text)
	if emoji {
		text = emoticonsToEmoji(text)
	}
	content := &event.MessageEventContent{MsgType: event.MsgText, Body: text}
	f := msg.Format
	if !f.Bold && !f.Italic && !f.Underline && !f.Strike && f.Color == 0 {
		return content
	}
	content.Format = event.FormatHTML
	content.FormattedBody = wrapFormat(strings.ReplaceAll(html.EscapeString(text), "\n", "<br/>"), f)
	return content
}

// wrapFormat wraps the HTML of a message in its uniform formatting.
func wrapFormat(body string, f msnclient.Format) string {
	if f.Color != 0 {
		c := fmt.Sprintf("#%06x", f.Color&0xffffff)
		body = fmt.Sprintf(`<font color="%s" data-mx-color="%s">%s</font>`, c, c, body)
	}
	if f.Strike {
		body = "<del>" + body + "</del>"
	}
	if f.Underline {
		body = "<u>" + body + "</u>"
	}
	if f.Italic {
		body = "<i>" + body + "</i>"
	}
	if f.Bold {
		body = "<b>" + body + "</b>"
	}
	return body
}

// emoticons maps MSN text emoticons to emoji. Codes are matched
// case-insensitively and only as whole words.
var emoticons = map[string]string{
	":)": "🙂", ":-)": "🙂", ":d": "😃", ":-d": "😃", ":(": "🙁", ":-(": "🙁",
	";)": "😉", ";-)": "😉", ":p": "😛", ":-p": "😛", ":o": "😮", ":-o": "😮",
	":'(": "😢", ":@": "😠", ":-@": "😠", ":s": "😕", ":-s": "😕", ":$": "😳", ":-$": "😳",
	":|": "😐", ":-|": "😐", "(h)": "😎", "(a)": "😇", "(6)": "😈", "(y)": "👍", "(n)": "👎",
	"(l)": "❤️", "(u)": "💔", "(k)": "💋", "(f)": "🌹", "(w)": "🥀", "(*)": "⭐", "(s)": "🌙",
	"(#)": "☀️", "(8)": "🎵", "(e)": "📧", "(^)": "🎂", "(g)": "🎁", "(b)": "🍺", "(d)": "🍸",
	"(c)": "☕", "(i)": "💡", "(p)": "📷", "(t)": "📞", "(m)": "💬", "(@)": "🐱", "(&)": "🐶",
	"({)": "🤗", "(})": "🤗", "(o)": "🕒", "(z)": "👦", "(x)": "👧",
}

// emoticonsToEmoji replaces whole-word emoticons in s (words are separated
// by white space; trailing punctuation is kept).
func emoticonsToEmoji(s string) string {
	var sb strings.Builder
	for len(s) > 0 {
		end := strings.IndexFunc(s, unicode.IsSpace)
		if end < 0 {
			end = len(s)
		}
		word := s[:end]
		core := strings.TrimRight(word, ".,!?")
		if emoji, ok := emoticons[strings.ToLower(core)]; ok {
			word = emoji + word[len(core):]
		}
		sb.WriteString(word)
		s = s[end:]
		space := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsSpace(r) })
		if space < 0 {
			space = len(s)
		}
		sb.WriteString(s[:space])
		s = s[space:]
	}
	return sb.String()
}
