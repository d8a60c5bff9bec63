package msnclient

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of chunked-message reassembly (Message-ID with Chunks: n on the
// first part, Chunk: i, 1 <= i < n, on the others; switchboard.md §6.8).
const (
	maxChunks          = 64       // parts of one message
	maxChunkedBytes    = 64 << 10 // reassembled body
	maxChunkSets       = 8        // incomplete messages per switchboard
	defaultChunkExpiry = 60 * time.Second
	maxReportedBytes   = 4 << 10 // Raw of a dropped message is cut to this
)

// chunkSet is a chunked message being reassembled.
type chunkSet struct {
	from  string
	head  []byte   // header block of the first part
	parts [][]byte // bodies by index; nil until received
	got   int
	size  int
	timer *time.Timer
}

// joined returns the header block and the bodies received so far.
func (cs *chunkSet) joined() []byte {
	out := append(append([]byte(nil), cs.head...), "\r\n\r\n"...)
	for _, p := range cs.parts {
		out = append(out, p...)
	}
	return out
}

// incomplete reports a message that cannot be delivered whole.
func incomplete(from string, raw []byte, why string) *UnknownMessage {
	ct := parseMessage(raw).ContentType()
	if len(raw) > maxReportedBytes {
		raw = raw[:maxReportedBytes]
	}
	return &UnknownMessage{From: from, ContentType: ct, Raw: raw, Err: fmt.Errorf("%w: %s", ErrIncompleteMessage, why)}
}

// chunkAssembler reassembles the chunked messages of one switchboard
// connection. Incomplete sets are dropped after a timeout, when a bound is
// exceeded or when the connection ends; every drop is reported through
// report as an UnknownMessage with Err set, so nothing vanishes silently.
type chunkAssembler struct {
	expiry time.Duration
	report func(*UnknownMessage) // called without mu held

	mu     sync.Mutex
	sets   map[string]*chunkSet // by lower-cased sender + "\n" + Message-ID
	closed bool
}

func newChunkAssembler(expiry time.Duration, report func(*UnknownMessage)) *chunkAssembler {
	return &chunkAssembler{expiry: expiry, report: report, sets: make(map[string]*chunkSet)}
}

// add takes one received payload. It returns the payload to decode: the
// payload itself when it is not a chunk, the reassembled message when this
// part completes one, or nil while parts are missing or when the part was
// dropped (and reported).
func (a *chunkAssembler) add(from string, payload []byte) []byte {
	m := parseMessage(payload)
	id := m.Get("Message-ID")
	num, first := m.Get("Chunks"), true
	if num == "" {
		num, first = m.Get("Chunk"), false
	}
	if id == "" || num == "" {
		return payload
	}
	n, err := strconv.Atoi(num)
	if first && err == nil && n == 1 {
		return payload
	}
	var drops []*UnknownMessage
	defer func() {
		for _, d := range drops {
			a.report(d)
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	key := strings.ToLower(from) + "\n" + id
	dropSet := func(cs *chunkSet, why string) {
		cs.timer.Stop()
		delete(a.sets, key)
		drops = append(drops, incomplete(from, cs.joined(), why))
	}
	head, body := splitHeaderBody(payload)
	if first {
		if err != nil || n < 1 || n > maxChunks {
			drops = append(drops, incomplete(from, payload, fmt.Sprintf("bad chunk count %q", num)))
			return nil
		}
		if old := a.sets[key]; old != nil {
			dropSet(old, "restarted before it was complete")
		}
		if len(a.sets) >= maxChunkSets {
			drops = append(drops, incomplete(from, payload, "too many incomplete chunked messages"))
			return nil
		}
		cs := &chunkSet{from: from, head: append([]byte(nil), head...), parts: make([][]byte, n), got: 1, size: len(body)}
		cs.parts[0] = append([]byte{}, body...)
		cs.timer = time.AfterFunc(a.expiry, func() { a.expire(key, cs) })
		a.sets[key] = cs
		return nil
	}
	cs := a.sets[key]
	switch {
	case cs == nil:
		drops = append(drops, incomplete(from, payload, "part "+num+" of an unknown message"))
		return nil
	case err != nil || n < 1 || n >= len(cs.parts):
		dropSet(cs, fmt.Sprintf("bad chunk number %q", num))
		return nil
	case cs.parts[n] != nil:
		dropSet(cs, fmt.Sprintf("chunk %d received twice", n))
		return nil
	case cs.size+len(body) > maxChunkedBytes:
		dropSet(cs, fmt.Sprintf("longer than %d bytes", maxChunkedBytes))
		return nil
	}
	cs.parts[n] = append([]byte{}, body...)
	cs.got++
	cs.size += len(body)
	if cs.got < len(cs.parts) {
		return nil
	}
	cs.timer.Stop()
	delete(a.sets, key)
	return cs.joined()
}

// expire drops cs if it is still incomplete when its time is up.
func (a *chunkAssembler) expire(key string, cs *chunkSet) {
	a.mu.Lock()
	if a.closed || a.sets[key] != cs {
		a.mu.Unlock()
		return
	}
	delete(a.sets, key)
	evt := incomplete(cs.from, cs.joined(), fmt.Sprintf("%d of %d parts arrived within %s", cs.got, len(cs.parts), a.expiry))
	a.mu.Unlock()
	a.report(evt)
}

// close drops and reports every incomplete set; later parts are ignored.
func (a *chunkAssembler) close() {
	a.mu.Lock()
	var evts []*UnknownMessage
	for key, cs := range a.sets {
		cs.timer.Stop()
		delete(a.sets, key)
		evts = append(evts, incomplete(cs.from, cs.joined(), fmt.Sprintf("%d of %d parts arrived before the switchboard closed", cs.got, len(cs.parts))))
	}
	a.closed = true
	a.mu.Unlock()
	for _, evt := range evts {
		a.report(evt)
	}
}
