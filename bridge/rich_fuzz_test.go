package bridge

import (
	"bytes"
	"image"
	"image/png"
	"testing"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// FuzzWinkPreview: the cabinet reader never panics, never returns more
// than its bounds, and what it returns as a preview is an image file's
// contents with a matching type.
func FuzzWinkPreview(f *testing.F) {
	f.Add(msntest.WinkCAB([]msntest.CABFile{{Name: "content.xml", Data: []byte(`<package><item type="thumbnail" file="t.png"/></package>`)}, {Name: "t.png", Data: []byte("\x89PNG\r\n\x1a\n")}}))
	f.Add(msntest.WinkCAB([]msntest.CABFile{{Name: "a.gif", Data: []byte("GIF89a")}}))
	f.Add([]byte("MSCF"))
	f.Add([]byte("MSCF\x00\x00\x00\x00\xff\xff\x00\x00\x00\x00\x00\x00\x2c\x00\x00\x00\x00\x00\x00\x00\x03\x01\x01\x00\x01\x00\x04\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, cab []byte) {
		data, ext, mime := winkPreview(cab)
		if data == nil {
			if ext != "" || mime != "" {
				t.Fatal("a type without data")
			}
			return
		}
		if len(data) > cabMaxFileSize || mime == "" || ext == "" {
			t.Fatalf("%d bytes of %q %q", len(data), ext, mime)
		}
		_, _, _ = image.DecodeConfig(bytes.NewReader(data))
		msg := winkMessage("x", cab)
		if len(msg.files) == 0 || !bytes.Equal(msg.files[len(msg.files)-1].data, cab) {
			t.Fatal("the wink file is not the cabinet")
		}
	})
}

// FuzzWAVDuration: the WAV header reader never panics and never reports a
// duration longer than the file could hold at one byte per millisecond
// over its data rate.
func FuzzWAVDuration(f *testing.F) {
	f.Add(msntest.VoiceClipWAV(1000))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"))
	f.Add([]byte("RIFF\x04\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, wav []byte) {
		ms, ok := wavDuration(wav)
		if !ok && ms != 0 || ms < 0 || ms > len(wav)*1000 {
			t.Fatalf("%d ms, %v, for %d bytes", ms, ok, len(wav))
		}
	})
}

// BenchmarkWinkPreview measures taking the thumbnail out of a 200 KiB
// MSZIP wink (the preview is extracted once per wink received).
func BenchmarkWinkPreview(b *testing.B) {
	var thumb bytes.Buffer
	if err := png.Encode(&thumb, image.NewRGBA(image.Rect(0, 0, 50, 50))); err != nil {
		b.Fatal(err)
	}
	half := make([]byte, 100<<10)
	for i := range half {
		half[i] = byte(i * 7 % 251)
	}
	cab := mszipCAB(b, []msntest.CABFile{
		{Name: "content.xml", Data: []byte(`<package><item type="thumbnail" file="t.png"/></package>`)},
		{Name: "a.swf", Data: append(half, half...)},
		{Name: "t.png", Data: thumb.Bytes()},
	})
	b.SetBytes(int64(2 * len(half))) // unpacked folder data
	b.ReportAllocs()
	for b.Loop() {
		if data, _, _ := winkPreview(cab); data == nil {
			b.Fatal("no preview")
		}
	}
}
