package msnp

import (
	"bytes"
	"slices"
	"testing"
)

func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"VER 1 MSNP18 CVR0\r\n",
		"MSG Hotmail Hotmail 5\r\nhello",
		"ADL 0 3\r\n<a>ADL 3 OK\r\n",
		"UBX 1:bob@x.com 12\r\n<Data></Data>",
		"MSG a b -1\r\n",
		"911 4\r\n",
		"LST N=a F=b C=1 \r\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, data []byte, fromClient bool) {
		dir := FromServer
		if fromClient {
			dir = FromClient
		}
		r := NewReader(bytes.NewReader(data), dir)
		r.MaxPayload = 4096
		// A small buffer (the notification server's) reads the same.
		small := NewReaderSize(bytes.NewReader(data), dir, 16)
		small.MaxPayload = 4096
		for i := 0; i < 1000; i++ {
			cmd, err := r.ReadCommand()
			cmdSmall, errSmall := small.ReadCommand()
			if (err == nil) != (errSmall == nil) || (err == nil && !sameCommand(cmd, cmdSmall)) {
				t.Fatalf("a 16-byte buffer read %v, %v; the default one %v, %v", cmdSmall, errSmall, cmd, err)
			}
			if err != nil {
				if _, ok := err.(*SyntaxError); ok {
					continue
				}
				return
			}
			if len(cmd.Payload) > 4096 {
				t.Fatalf("payload over the limit: %d", len(cmd.Payload))
			}
			// A parsed command must re-marshal to something that parses back
			// to the same name, unless it had parameters we refuse to send.
			if out, err := cmd.Marshal(); err == nil {
				r2 := NewReader(bytes.NewReader(out), dir)
				back, err := r2.ReadCommand()
				if err == nil && back.Name != cmd.Name {
					t.Fatalf("round trip changed %q to %q", cmd.Name, back.Name)
				}
			}
		}
	})
}

func FuzzDecodeParam(f *testing.F) {
	f.Add("Bob%20Smith")
	f.Add("%FF%zz%")
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeParam(s)
		if e := EncodeParam(d); DecodeParam(e) != d {
			t.Fatalf("round trip %q -> %q -> %q", d, e, DecodeParam(e))
		}
	})
}

func sameCommand(a, b *Command) bool {
	return a.Name == b.Name && slices.Equal(a.Args, b.Args) &&
		a.HasPayload == b.HasPayload && bytes.Equal(a.Payload, b.Payload)
}
