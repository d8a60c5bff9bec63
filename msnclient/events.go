package msnclient

import "sync"

// eventQueue delivers events to the handler one at a time, in order, from a
// goroutine that exists only while events are pending. emit never blocks: the
// queue is unbounded, so a slow handler cannot stall a connection reader.
type eventQueue struct {
	handler EventHandler

	mu      sync.Mutex
	queue   []any
	running bool
}

func newEventQueue(handler EventHandler) *eventQueue {
	return &eventQueue{handler: handler}
}

// push queues evt and starts the delivery goroutine if none is running.
func (q *eventQueue) push(evt any) {
	if q.handler == nil {
		return
	}
	q.mu.Lock()
	q.queue = append(q.queue, evt)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go q.drain()
	}
}

func (q *eventQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.running = false
			q.queue = nil // release the backing array of a burst
			q.mu.Unlock()
			return
		}
		evt := q.queue[0]
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		q.handler(evt)
	}
}
