package p2p

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParseFileContext: any bytes parse or fail cleanly; a parsed context
// re-encodes to one that parses to the same size and cleaned name, and a
// cleaned name is always safe.
func FuzzParseFileContext(f *testing.F) {
	f.Add((&FileContext{Name: "holiday.jpg", Size: 12345}).Marshal())
	f.Add((&FileContext{Name: "p.png", Size: 1, Preview: []byte("\x89PNG\r\n\x1a\n")}).Marshal())
	f.Add(make([]byte, fileCtxMinLen))
	f.Fuzz(func(t *testing.T, b []byte) {
		fc, err := ParseFileContext(b)
		if err != nil {
			return
		}
		name := CleanFileName(fc.Name)
		if name == "" || strings.ContainsAny(name, "/\\\x00\r\n") || !utf8.ValidString(name) || len(name) > maxFileNameSize {
			t.Fatalf("unsafe cleaned name %q", name)
		}
		again, err := ParseFileContext(fc.Marshal())
		if err != nil {
			t.Fatalf("re-parse of our own encoding: %v", err)
		}
		if again.Size != fc.Size || CleanFileName(again.Name) != CleanFileName(string([]rune(fc.Name)[:min(len([]rune(fc.Name)), len([]rune(again.Name)))])) {
			t.Fatalf("re-parse changed the file: %+v vs %+v", again, fc)
		}
	})
}

// TestFileContextWLM: a WLM-style version 3 context (638-byte header) with
// a preview after it.
func TestFileContextWLM(t *testing.T) {
	b := make([]byte, 638)
	binary.LittleEndian.PutUint32(b[0:], 638)
	binary.LittleEndian.PutUint32(b[4:], 3)
	binary.LittleEndian.PutUint64(b[8:], 5<<20)
	units := []uint16{'R', 0xe9, 's', 'u', 'm', 0xe9, ' ', 0xD83D, 0xDCC4, '.', 'p', 'd', 'f'}
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[20+2*i:], u)
	}
	b = append(b, "PNGDATA"...)
	fc, err := ParseFileContext(b)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Name != "Résumé 📄.pdf" || fc.Size != 5<<20 || string(fc.Preview) != "PNGDATA" {
		t.Fatalf("got %+v", fc)
	}
	if _, err := ParseFileContext(b[:100]); !errors.Is(err, ErrBadFileContext) {
		t.Fatalf("short context: %v", err)
	}
}

func TestFileContextRoundTrip(t *testing.T) {
	long := strings.Repeat("x", 300) + ".txt"
	fc := &FileContext{Name: long, Size: 1 << 40, Preview: []byte{1, 2, 3}}
	got, err := ParseFileContext(fc.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != fc.Size || got.Name != long[:259] || !bytes.Equal(got.Preview, fc.Preview) {
		t.Fatalf("got %q %d %v", got.Name, got.Size, got.Preview)
	}
}

func TestCleanFileName(t *testing.T) {
	for in, want := range map[string]string{
		"photo.jpg":                       "photo.jpg",
		"../../etc/passwd":                "passwd",
		`C:\Users\bob\secret.doc`:         "secret.doc",
		"evil\r\nX-Header: 1.txt":         "evilX-Header: 1.txt",
		"a\x00b\u202etxt.exe":             "abtxt.exe",
		"..":                              "file",
		"   ":                             "file",
		".bashrc":                         "bashrc",
		"dir/":                            "file",
		strings.Repeat("é", 200) + ".png": strings.Repeat("é", 118) + ".png",
	} {
		if got := CleanFileName(in); got != want {
			t.Errorf("CleanFileName(%q) = %q, want %q", in, got, want)
		}
	}
}
