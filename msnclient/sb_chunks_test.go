package msnclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// chunkPart builds one part of a chunked text message: the first part
// (index 0) carries the content headers and "Chunks: total", the others
// only "Chunk: index".
func chunkPart(id string, index, total int, body string) []byte {
	if index == 0 {
		return []byte("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n" +
			"X-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n" +
			"Message-ID: " + id + "\r\nChunks: " + strconv.Itoa(total) + "\r\n\r\n" + body)
	}
	return []byte("Message-ID: " + id + "\r\nChunk: " + strconv.Itoa(index) + "\r\n\r\n" + body)
}

// testAssembler returns an assembler whose reports go to a channel.
func testAssembler(expiry time.Duration) (*chunkAssembler, <-chan *UnknownMessage) {
	ch := make(chan *UnknownMessage, 100)
	return newChunkAssembler(expiry, func(m *UnknownMessage) { ch <- m }), ch
}

func noReport(t *testing.T, reports <-chan *UnknownMessage) {
	t.Helper()
	select {
	case r := <-reports:
		t.Fatalf("unexpected report: %v", r.Err)
	default:
	}
}

func wantReport(t *testing.T, reports <-chan *UnknownMessage, from, reason string) *UnknownMessage {
	t.Helper()
	select {
	case r := <-reports:
		if !errors.Is(r.Err, ErrIncompleteMessage) || !strings.Contains(r.Err.Error(), reason) || r.From != from {
			t.Fatalf("report from %s: %v, want one from %s about %q", r.From, r.Err, from, reason)
		}
		if len(r.Raw) > maxReportedBytes {
			t.Fatalf("report carries %d bytes", len(r.Raw))
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("no report about %q", reason)
	}
	return nil
}

func TestChunksReassembled(t *testing.T) {
	for name, order := range map[string][]int{"in order": {0, 1, 2}, "out of order": {0, 2, 1}} {
		t.Run(name, func(t *testing.T) {
			a, reports := testAssembler(time.Minute)
			bodies := []string{"Hello, ", "wörld", " and more\r\nlines"}
			var got []byte
			for i, idx := range order {
				out := a.add("bob@example.com", chunkPart("{G1}", idx, 3, bodies[idx]))
				if i < len(order)-1 && out != nil {
					t.Fatalf("part %d delivered early: %q", idx, out)
				}
				got = out
			}
			msg, ok := messageEvent("bob@example.com", "Bob", false, got).(*MessageReceived)
			if !ok {
				t.Fatalf("reassembled payload %q is not a text message", got)
			}
			if want := "Hello, wörld and more\nlines"; msg.Message.Text != want {
				t.Errorf("text %q, want %q", msg.Message.Text, want)
			}
			if !msg.Message.Format.Bold || msg.Message.Format.Font != "Arial" {
				t.Errorf("format of the first part lost: %+v", msg.Message.Format)
			}
			noReport(t, reports)
			if len(a.sets) != 0 {
				t.Errorf("%d sets left after completion", len(a.sets))
			}
		})
	}
}

func TestChunksPassThrough(t *testing.T) {
	a, reports := testAssembler(time.Minute)
	for _, p := range [][]byte{
		[]byte("MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nplain"),
		[]byte("Content-Type: text/plain\r\nMessage-ID: {X}\r\n\r\nid without chunks"),
		chunkPart("{ONE}", 0, 1, "a single chunk"),
	} {
		if got := a.add("bob@example.com", p); !bytes.Equal(got, p) {
			t.Errorf("%q came out as %q", p, got)
		}
	}
	noReport(t, reports)
}

func TestChunksBounds(t *testing.T) {
	const bob, carol = "bob@example.com", "carol@example.com"
	t.Run("bad count", func(t *testing.T) {
		a, reports := testAssembler(time.Minute)
		for _, n := range []string{"0", "-2", "x", strconv.Itoa(maxChunks + 1)} {
			p := []byte("Content-Type: text/plain\r\nMessage-ID: {B}\r\nChunks: " + n + "\r\n\r\nbody")
			if got := a.add(bob, p); got != nil {
				t.Errorf("Chunks: %s delivered %q", n, got)
			}
			if r := wantReport(t, reports, bob, "bad chunk count"); !bytes.Equal(r.Raw, p) || r.ContentType != ctText {
				t.Errorf("report %+v", r)
			}
		}
	})
	t.Run("unknown and bad parts", func(t *testing.T) {
		a, reports := testAssembler(time.Minute)
		a.add(bob, chunkPart("{U}", 1, 2, "orphan"))
		wantReport(t, reports, bob, "unknown message")
		a.add(bob, chunkPart("{U}", 0, 3, "first"))
		a.add(carol, chunkPart("{U}", 1, 3, "carol's part does not belong to bob's message"))
		wantReport(t, reports, carol, "unknown message")
		a.add(bob, chunkPart("{U}", 3, 3, "out of range"))
		r := wantReport(t, reports, bob, "bad chunk number")
		if !bytes.HasSuffix(r.Raw, []byte("\r\n\r\nfirst")) {
			t.Errorf("report does not carry what arrived: %q", r.Raw)
		}
		a.add(bob, chunkPart("{D}", 0, 3, "first"))
		a.add(bob, chunkPart("{D}", 1, 3, "second"))
		a.add(bob, chunkPart("{D}", 1, 3, "again"))
		wantReport(t, reports, bob, "received twice")
		if len(a.sets) != 0 {
			t.Errorf("%d sets kept after drops", len(a.sets))
		}
	})
	t.Run("too large", func(t *testing.T) {
		a, reports := testAssembler(time.Minute)
		part := strings.Repeat("x", maxChunkedBytes/2)
		a.add(bob, chunkPart("{L}", 0, 3, part))
		a.add(bob, chunkPart("{L}", 1, 3, part))
		if got := a.add(bob, chunkPart("{L}", 2, 3, "one byte too many")); got != nil {
			t.Fatal("oversized message delivered")
		}
		wantReport(t, reports, bob, "longer than")
	})
	t.Run("too many sets", func(t *testing.T) {
		a, reports := testAssembler(time.Minute)
		for i := range maxChunkSets {
			a.add(bob, chunkPart(fmt.Sprintf("{S%d}", i), 0, 2, "x"))
		}
		noReport(t, reports)
		a.add(bob, chunkPart("{S-extra}", 0, 2, "x"))
		wantReport(t, reports, bob, "too many")
		if got := a.add(bob, chunkPart("{S0}", 1, 2, "y")); got == nil {
			t.Error("an earlier set was lost when the limit was hit")
		}
	})
	t.Run("restart", func(t *testing.T) {
		a, reports := testAssembler(time.Minute)
		a.add(bob, chunkPart("{R}", 0, 2, "old"))
		a.add(bob, chunkPart("{R}", 0, 2, "new "))
		wantReport(t, reports, bob, "restarted")
		if got := a.add(bob, chunkPart("{R}", 1, 2, "end")); !bytes.HasSuffix(got, []byte("new end")) {
			t.Errorf("restarted message %q", got)
		}
	})
}

func TestChunksExpireAndClose(t *testing.T) {
	a, reports := testAssembler(10 * time.Millisecond)
	a.add("bob@example.com", chunkPart("{E}", 0, 3, "first"))
	a.add("bob@example.com", chunkPart("{E}", 2, 3, "third"))
	r := wantReport(t, reports, "bob@example.com", "2 of 3 parts")
	if !bytes.HasSuffix(r.Raw, []byte("firstthird")) || r.ContentType != ctText {
		t.Errorf("expired report %+v", r)
	}
	if got := a.add("bob@example.com", chunkPart("{E}", 1, 3, "late")); got != nil {
		t.Errorf("late part completed an expired message: %q", got)
	}
	wantReport(t, reports, "bob@example.com", "unknown message")

	a, reports = testAssembler(time.Minute)
	a.add("bob@example.com", chunkPart("{C}", 0, 2, "first"))
	a.close()
	wantReport(t, reports, "bob@example.com", "before the switchboard closed")
	if got := a.add("bob@example.com", chunkPart("{C}", 1, 2, "x")); got != nil {
		t.Error("part accepted after close")
	}
	noReport(t, reports)
}

// TestSBChunkedMessage: over a switchboard, a chunked message arrives as one
// MessageReceived and an unfinished one is reported when the session ends.
func TestSBChunkedMessage(t *testing.T) {
	handler, events := eventChan()
	c := NewClient(Config{Email: "me@example.com"}, handler)
	srv := newScriptedSB(t)
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		errc <- c.sb.answer(ctx, "sid", srv.ln.Addr().String(), "cookie")
	}()
	srv.accept()
	srv.expectLine("ANS 1 me@example.com cookie sid")
	srv.write("IRO 1 1 1 bob@example.com Bob\r\n", "ANS 1 OK\r\n")
	if err := <-errc; err != nil {
		t.Fatalf("answer: %v", err)
	}
	msg := func(p []byte) string { return "MSG bob@example.com Bob " + strconv.Itoa(len(p)) + "\r\n" + string(p) }
	srv.write(msg(chunkPart("{M}", 0, 3, "one ")), msg(chunkPart("{M}", 1, 3, "two ")), msg(chunkPart("{M}", 2, 3, "three")))
	m := nextEvent[*MessageReceived](t, events)
	if m.Message.Text != "one two three" || m.From != "bob@example.com" {
		t.Errorf("message %+v", m)
	}
	srv.write(msg(chunkPart("{N}", 0, 2, "never finished")), "BYE bob@example.com\r\n")
	u := nextEvent[*UnknownMessage](t, events)
	if !errors.Is(u.Err, ErrIncompleteMessage) || !bytes.HasSuffix(u.Raw, []byte("never finished")) || strings.Join(u.Participants, ",") != "bob@example.com" {
		t.Errorf("incomplete report %+v", u)
	}
	nextEvent[*ConversationClosed](t, events)
}

// FuzzChunkAssembler feeds a sequence of payloads (separated by 0xFF bytes;
// a leading 'c' sends a part as carol) and checks that reassembly stays
// within its bounds and never delivers more than it received.
// Seeds: testdata/fuzz/FuzzChunkAssembler.
func FuzzChunkAssembler(f *testing.F) {
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte{0xFF}) }
	f.Add(join(chunkPart("{A}", 0, 2, "a"), chunkPart("{A}", 1, 2, "b")))
	f.Add(join(chunkPart("{A}", 0, 3, "a"), chunkPart("{A}", 2, 3, "c"), chunkPart("{A}", 2, 3, "c")))
	f.Add(join(chunkPart("{A}", 1, 2, "orphan"), []byte("cMessage-ID: {A}\r\nChunks: 99999999999999999999\r\n\r\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		var mu sync.Mutex
		var reports []*UnknownMessage
		a := newChunkAssembler(time.Minute, func(m *UnknownMessage) {
			mu.Lock()
			reports = append(reports, m)
			mu.Unlock()
		})
		received := 0
		for _, p := range bytes.Split(data, []byte{0xFF}) {
			from := "bob@example.com"
			if len(p) > 0 && p[0] == 'c' {
				from, p = "carol@example.com", p[1:]
			}
			received += len(p)
			if out := a.add(from, p); out != nil && len(out) > received+4 {
				t.Fatalf("delivered %d bytes out of %d received", len(out), received)
			}
			if len(a.sets) > maxChunkSets {
				t.Fatalf("%d incomplete sets kept", len(a.sets))
			}
			for _, cs := range a.sets {
				if cs.size > maxChunkedBytes || len(cs.parts) > maxChunks {
					t.Fatalf("set over its bounds: %d bytes, %d parts", cs.size, len(cs.parts))
				}
			}
		}
		a.close()
		mu.Lock()
		defer mu.Unlock()
		for _, r := range reports {
			if !errors.Is(r.Err, ErrIncompleteMessage) || len(r.Raw) > maxReportedBytes {
				t.Fatalf("bad report %+v", r)
			}
		}
	})
}
