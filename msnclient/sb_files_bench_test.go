package msnclient_test

import (
	"bytes"
	"runtime"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// BenchmarkFileTransfer measures a 10 MiB file sent with SendFile and
// received (streamed to a temporary file) through one switchboard of the
// fake server; MB/s is file bytes. peak-heap-MiB is the largest growth of
// the Go heap in use (both clients and the server) while the file is in
// flight: it stays small as neither side holds the file in memory.
func BenchmarkFileTransfer(b *testing.B) {
	const size = 10 << 20
	_, alice, bob, ctx := chatPair(b, 15, 15, nil)
	data := randomPicture(b, size)
	var peak uint64
	for range b.N {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapInuse
		stop, sampled := make(chan struct{}), make(chan uint64)
		go func() {
			var top uint64
			var s runtime.MemStats
			for {
				runtime.ReadMemStats(&s)
				top = max(top, s.HeapInuse)
				select {
				case <-stop:
					sampled <- top
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		}()
		from := bob.mark()
		if err := alice.SendFile(ctx, bob.email, msnclient.File{Name: "big.bin", Size: size, Reader: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
		e := waitNth(b, bob.recorder, from, 1, chatTimeout, "file", func(*msnclient.FileReceived) bool { return true })
		close(stop)
		if top := <-sampled; top > base {
			peak = max(peak, top-base)
		}
		_ = e.File.Close()
	}
	b.SetBytes(size)
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
}
