package msnclient

import (
	"sync"

	"github.com/rs/zerolog"
)

// Limits of the event queue. Messages and connection events are never
// dropped; typing notifications and presence, which a flood from contacts
// can produce faster than a slow handler consumes them, are.
const (
	// eventSoftLimit is the queue length above which typing notifications
	// are dropped and a presence update replaces a queued one of the same
	// contact instead of queuing behind it.
	eventSoftLimit = 1000
	// eventHardLimit is the queue length above which every droppable event
	// is dropped. It is far above a full contact list's login burst.
	eventHardLimit = 10000
	// eventRawBudget bounds the bytes of UnknownMessage.Raw held in the
	// queue: past it, the Raw of further unknown messages is dropped (the
	// event itself is kept, with RawTruncated set) until the handler
	// catches up.
	eventRawBudget = 1 << 20
	// smallEventRun is the most events delivered in one go after which
	// the queue keeps its supersede map for the next ones (a Go map of up
	// to 8 entries is one small table).
	smallEventRun = 8
)

// eventQueue delivers events to the handler one at a time, in order, from a
// goroutine that exists only while events are pending. emit never blocks, so
// a slow handler cannot stall a connection reader; the queue is bounded by
// dropping droppable events (see eventSoftLimit and eventHardLimit).
type eventQueue struct {
	handler EventHandler
	log     zerolog.Logger

	mu      sync.Mutex
	queue   []any
	head    uint64            // position of queue[0] among all events queued
	latest  map[string]uint64 // supersedeKey -> position of the queued event
	running bool
	runFrom uint64 // head when the delivery goroutine started
	dropped int    // events dropped at the hard limit since the last warning
	raw     int    // bytes of UnknownMessage.Raw queued
}

func newEventQueue(handler EventHandler, log zerolog.Logger) *eventQueue {
	return &eventQueue{handler: handler, log: log}
}

// push queues evt and starts the delivery goroutine if none is running.
func (q *eventQueue) push(evt any) {
	if q.handler == nil {
		return
	}
	q.mu.Lock()
	if !q.admit(evt) {
		q.mu.Unlock()
		return
	}
	if um, ok := evt.(*UnknownMessage); ok {
		q.budgetRaw(um)
	}
	if key := supersedeKey(evt); key != "" {
		if q.latest == nil {
			q.latest = make(map[string]uint64)
		}
		q.latest[key] = q.head + uint64(len(q.queue))
	}
	q.queue = append(q.queue, evt)
	start := !q.running
	if start {
		q.running, q.runFrom = true, q.head
	}
	q.mu.Unlock()
	if start {
		go q.drain()
	}
}

// admit decides, with q.mu held, whether evt is to be appended. Above the
// soft limit typing notifications are dropped and a presence update takes
// the place of a queued one of the same contact, which it supersedes.
func (q *eventQueue) admit(evt any) bool {
	n := len(q.queue)
	if n < eventSoftLimit {
		return true
	}
	switch evt.(type) {
	case *Typing, *CircleTyping:
		return false
	}
	key := supersedeKey(evt)
	if key == "" {
		return true // never dropped
	}
	if pos, ok := q.latest[key]; ok && pos >= q.head {
		q.queue[pos-q.head] = evt
		return false
	}
	if n < eventHardLimit {
		return true
	}
	if q.dropped == 0 {
		q.log.Warn().Int("queued", n).Msg("event handler is too slow, dropping typing and presence events")
	}
	q.dropped++
	return false
}

// budgetRaw keeps the queued raw payloads within eventRawBudget, with
// q.mu held: a Raw that does not fit is cut (copied, so that the large
// buffer it came from is not kept alive).
func (q *eventQueue) budgetRaw(um *UnknownMessage) {
	left := eventRawBudget - q.raw
	if len(um.Raw) > left {
		if left <= 0 {
			um.Raw = nil
		} else {
			um.Raw = append([]byte(nil), um.Raw[:left]...)
		}
		um.RawTruncated = true
	}
	q.raw += len(um.Raw)
}

// supersedeKey returns, for an event that carries a whole piece of state
// and so makes an earlier one of the same key obsolete, that key; "" for
// the others, which are never dropped or replaced.
func supersedeKey(evt any) string {
	switch e := evt.(type) {
	case *ContactPresence:
		return "presence " + e.Email
	case *PersonalMessage:
		return "psm " + e.Email
	case *ContactListChanged:
		return "list"
	case *CircleMemberPresence:
		return "circle presence " + string(e.ID) + " " + e.Email
	}
	return ""
}

func (q *eventQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			q.queue = nil // release the backing array of a burst
			// A map keeps the room it grew to: after a burst (the login's
			// presence) it is released; after a few events it is reused.
			if q.head-q.runFrom > smallEventRun {
				q.latest = nil
			} else {
				clear(q.latest)
			}
			if q.dropped > 0 {
				q.log.Warn().Int("dropped", q.dropped).Msg("event handler caught up; typing and presence events were dropped")
				q.dropped = 0
			}
			q.mu.Unlock()
			return
		}
		evt := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		if key := supersedeKey(evt); key != "" && q.latest[key] == q.head {
			delete(q.latest, key)
		}
		q.head++
		if um, ok := evt.(*UnknownMessage); ok {
			q.raw -= len(um.Raw)
		}
		q.mu.Unlock()
		q.handler(evt)
	}
}
