package msnclient

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

func FuzzParseEmoticonHeader(f *testing.F) {
	obj := p2p.NewMSNObject("w@x.y", p2p.ObjectEmoticon, []byte("cat"), "TFR2C.tmp", "cat").String()
	f.Add([]byte(":cat:\t"+obj+"\t"), false)
	f.Add([]byte(":cat:\t"+obj+"\t(dog)\t"+obj), true)
	f.Add([]byte(":cat:\t%3Cmsnobj%20SHA1D%3D%22"+p2p.SHA1D([]byte("x"))+"%22%2F%3E\t"), false)
	f.Add([]byte("odd\tfields\tthree"), false)
	f.Add([]byte(":c\xfft:\t"+obj+"\t"), false)
	f.Add([]byte(":cat:\r\n\t"+obj+"\t"), false)
	f.Fuzz(func(t *testing.T, body []byte, animated bool) {
		defs, err := ParseEmoticonHeader(body, animated)
		if err != nil && !errors.Is(err, ErrBadEmoticons) {
			t.Fatalf("error %v does not wrap ErrBadEmoticons", err)
		}
		if len(defs) > MaxEmoticonsPerMessage {
			t.Fatalf("%d definitions", len(defs))
		}
		seen := make(map[string]bool)
		for _, e := range defs {
			if e.Shortcut == "" || !utf8.ValidString(e.Shortcut) || strings.ContainsAny(e.Shortcut, "\t\r\n\x00") ||
				utf8.RuneCountInString(e.Shortcut) > maxShortcutRunes || seen[e.Shortcut] {
				t.Fatalf("bad shortcut %q", e.Shortcut)
			}
			seen[e.Shortcut] = true
			if e.Animated != animated || e.SHA1D == "" || strings.ContainsAny(e.MSNObject, "\r\n\x00") || e.Size < 0 {
				t.Fatalf("bad definition %+v", e)
			}
			if _, err := p2p.ParseMSNObject(e.MSNObject); err != nil {
				t.Fatalf("kept an MSNObject that does not parse: %v", err)
			}
		}
		// What a following text message takes is what it uses.
		var d emoticonDefs
		d.define("a@b.c", defs)
		text := string(body)
		used := d.take("a@b.c", text)
		for i, e := range used {
			if !strings.Contains(text, e.Shortcut) || i > 0 && len(e.Shortcut) > len(used[i-1].Shortcut) {
				t.Fatalf("take returned %+v", used)
			}
		}
		if again := d.take("a@b.c", text); len(again) != 0 {
			t.Fatalf("definitions used twice: %+v", again)
		}
	})
}
