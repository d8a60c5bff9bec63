package bridge

import (
	"sync"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// session is one msnclient.Client with its event plumbing. Events that
// arrive before a sink is attached (during login, before the bridge has a
// UserLogin) are kept and delivered in order on attach.
type session struct {
	client *msnclient.Client

	mu      sync.Mutex
	sink    func(any)
	pending []any

	doneOnce sync.Once
	done     chan struct{}
	disc     *msnclient.Disconnected
	onDone   func() // called once the session has ended (guarded by mu)
}

func newSession() *session {
	return &session{done: make(chan struct{})}
}

// handle is the msnclient.EventHandler of the session.
func (s *session) handle(evt any) {
	if d, ok := evt.(*msnclient.Disconnected); ok {
		s.finish(d)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sink == nil {
		s.pending = append(s.pending, evt)
		return
	}
	s.sink(evt)
}

// attach sets the sink and delivers the events kept so far.
func (s *session) attach(sink func(any)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, evt := range s.pending {
		sink(evt)
	}
	s.pending = nil
	s.sink = sink
}

// finish marks the session ended; the first reason wins.
func (s *session) finish(d *msnclient.Disconnected) {
	s.doneOnce.Do(func() {
		s.disc = d
		close(s.done)
		s.mu.Lock()
		f := s.onDone
		s.onDone = nil
		s.mu.Unlock()
		if f != nil {
			go f()
		}
	})
}

// afterDone calls f on a goroutine of its own once the session has ended
// (at once if it has); only the last f given is called.
func (s *session) afterDone(f func()) {
	s.mu.Lock()
	select {
	case <-s.done:
		s.mu.Unlock()
		go f()
		return
	default:
	}
	s.onDone = f
	s.mu.Unlock()
}

// reason returns why the session ended (valid after done is closed).
func (s *session) reason() *msnclient.Disconnected {
	<-s.done
	return s.disc
}
