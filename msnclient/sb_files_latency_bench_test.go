package msnclient_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// latencyProxy forwards TCP connections to addr, delaying every byte by
// delay in each direction (a link with a round trip of 2*delay) without
// limiting the rate: what is read is sent on once its delay passed.
func latencyProxy(tb testing.TB, addr string, delay time.Duration) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				_ = in.Close()
				continue
			}
			go delayCopy(out, in, delay)
			go delayCopy(in, out, delay)
		}
	}()
	return ln.Addr().String()
}

type delayedChunk struct {
	at   time.Time
	data []byte
}

func delayCopy(dst io.WriteCloser, src io.ReadCloser, delay time.Duration) {
	chunks := make(chan delayedChunk, 4096)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				chunks <- delayedChunk{at: time.Now().Add(delay), data: buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	defer dst.Close()
	defer src.Close()
	for c := range chunks {
		time.Sleep(time.Until(c.at))
		if _, err := dst.Write(c.data); err != nil {
			return
		}
	}
}

// BenchmarkFileTransferLatency measures a 1 MiB file sent with SendFile
// through a switchboard 5 ms away each way (10 ms round trip, a near
// server over the Internet): the rate is bound by how many chunks are in
// flight per round trip, not by loopback speed.
func BenchmarkFileTransferLatency(b *testing.B) {
	const size = 1 << 20
	srv := chatServer(b, "alice@example.com", "bob@example.com")
	srv.SetAdvertisedSwitchboardAddr(latencyProxy(b, srv.SBAddr(), 5*time.Millisecond))
	alice := chatConnect(b, srv, "alice@example.com", 15, nil)
	bob := chatConnect(b, srv, "bob@example.com", 15, nil)
	ctx := chatCtx(b)
	data := randomPicture(b, size)
	for range b.N {
		from := bob.mark()
		if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: "big.bin", Size: size, Reader: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
		e := waitNth(b, bob.recorder, from, 1, chatTimeout, "file", func(*msnclient.FileReceived) bool { return true })
		_ = e.File.Close()
	}
	b.SetBytes(size)
}
