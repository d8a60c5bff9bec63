package msnclient

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"
	"unicode/utf16"
)

// FuzzDecodeInk: the ink decoders never panic, return data only without an
// error, never more than MaxInkSize bytes, and what they accept decodes
// again to the same bytes.
func FuzzDecodeInk(f *testing.F) {
	f.Add([]byte("base64:R0lGODlhAgABAIAAAAAAAP///yH5BAAAAAAALAAAAAACAAEAAAICRAEAOw=="))
	f.Add([]byte("base64:AGIcA4CABB0D0AQOAwRIEUVkGRQyCACAHgIAAHBCMwgA4BICAABIQhWrqtNBq6rTQQAAAD4AgOq+HgMBBnwKJBqGyNkeAQUDFQNdQwFRN1EhguDhI+DhYGBIAIL8UfikDNEoAA==\x00"))
	f.Add([]byte("base64:\r\n"))
	f.Add([]byte("base64:!!"))
	f.Add([]byte("R0lGODlh"))
	f.Add(p2pInkSample("image/gif", "base64:R0lGODlhAgABAIAAAAAAAP///w=="))
	f.Add(p2pInkSample("text/plain", "hello"))
	f.Fuzz(func(t *testing.T, body []byte) {
		data, err := DecodeInk(body)
		checkInk(t, data, err)
		if err == nil {
			again, err := DecodeInk([]byte("base64:" + base64.StdEncoding.EncodeToString(data)))
			if err != nil || !bytes.Equal(again, data) {
				t.Fatalf("re-encoded ink does not decode to the same bytes: %v", err)
			}
		}
		ct, data, err := decodeP2PInk(body)
		checkInk(t, data, err)
		if err == nil && !isInkType(ct) {
			t.Fatalf("accepted P2P ink of type %q", ct)
		}
	})
}

func checkInk(t *testing.T, data []byte, err error) {
	t.Helper()
	switch {
	case err != nil && data != nil:
		t.Fatalf("data and error: %v", err)
	case err != nil && !errors.Is(err, ErrBadInk) && !errors.Is(err, ErrInkTooLarge):
		t.Fatalf("unclassified error: %v", err)
	case err == nil && (len(data) == 0 || len(data) > MaxInkSize):
		t.Fatalf("accepted %d bytes", len(data))
	}
}

// p2pInkSample is P2P ink data as WLM sends it.
func p2pInkSample(ct, body string) []byte {
	units := utf16.Encode([]rune("MIME-Version: 1.0\r\nContent-Type: " + ct + "\r\n\r\n\x00" + body + "\x00"))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		b = append(b, byte(u), byte(u>>8))
	}
	return b
}

// BenchmarkDecodeP2PInk measures decoding a 20 KiB GIF drawing sent over
// P2P (UTF-16 text, base64).
func BenchmarkDecodeP2PInk(b *testing.B) {
	gif := make([]byte, 20<<10)
	for i := range gif {
		gif[i] = byte(i)
	}
	raw := p2pInkSample(InkGIF, "base64:"+base64.StdEncoding.EncodeToString(gif))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, data, err := decodeP2PInk(raw); err != nil || len(data) != len(gif) {
			b.Fatal(err)
		}
	}
}
