package p2p

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// BenchmarkMemoryPerTransfer measures the heap held by transfers in
// flight: 16 fetches (the most one peer may have) of 96 KiB pictures each, every one accepted and
// half-received, as when many contacts' pictures arrive at once over slow
// switchboards. Reported as bytes per transfer (B/transfer).
func BenchmarkMemoryPerTransfer(b *testing.B) {
	const transfers = maxAssemblies
	const size = 96 << 10
	for range b.N {
		b.StopTimer()
		sent := make(chan []byte, 4*transfers)
		m := NewManager(Config{Self: me, Send: func(_ context.Context, _ string, p []byte) error {
			sent <- append([]byte(nil), p...)
			return nil
		}, CallTimeout: time.Minute})
		objs := NewObjects(m)
		pic := make([]byte, size)
		obj := NewMSNObject(buddy, ObjectDisplayPicture, pic, "", "")
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		ctx, cancel := context.WithCancel(context.Background())
		for range transfers {
			go func() { _, _ = objs.Fetch(ctx, buddy, obj, 0) }()
		}
		id := uint32(1)
		for started := 0; started < transfers; {
			env, _ := ParseEnvelope(<-sent)
			pkt, err := ParsePacket(env.Body)
			if err != nil || pkt.IsAck() {
				continue
			}
			inv, err := ParseSLP(pkt.Data)
			if err != nil || inv.Method != "INVITE" {
				continue
			}
			var sid uint32
			for _, c := range inv.BodyFields()["sessionid"] {
				sid = sid*10 + uint32(c-'0')
			}
			body := "SessionID: " + inv.BodyFields()["sessionid"] + "\r\n\r\n\x00"
			ok := newSLPResponse(inv, 200, "OK", SLPSessionReq, body[:len(body)-1]).Marshal()
			id++
			m.HandleMessage(buddy, rawPacket(me, 0, id, 0, uint64(len(ok)), 0, id, 0, 0, ok, 0))
			id++
			for off := 0; off < size/2; off += 1202 {
				m.HandleMessage(buddy, rawPacket(me, sid, id, uint64(off), size, FlagMSNObjData, id, 0, 0, pic[off:off+1202], 1))
			}
			started++
		}
		b.StopTimer()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if a, _ := m.InFlight(); a != transfers {
			b.Fatalf("%d transfers in flight, want %d", a, transfers)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/transfers, "B/transfer")
		runtime.KeepAlive(objs)
		cancel()
		m.Stop()
		for a, c := m.InFlight(); a+c > 0; a, c = m.InFlight() {
			time.Sleep(time.Millisecond) // the fetches end; the next round starts clean
		}
		b.StartTimer()
	}
}
