package msnp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// ErrEngineClosed is returned by an Engine whose connection ended; Close's
// error is wrapped in it.
var ErrEngineClosed = errors.New("msnp: connection closed")

// Engine is the request side of one MSNP connection: it numbers commands
// with transaction ids, writes them through a Writer and hands each reply
// to the request waiting for it. The connection's reader passes every
// command it reads to Deliver; what Deliver does not take is an
// asynchronous command for the caller. Both the notification-server and
// the switchboard connections use one.
type Engine struct {
	w *Writer

	mu      sync.Mutex
	next    int
	pending map[int]*Call
	err     error
	done    chan struct{}
}

// Call is one request waiting for its reply.
type Call struct {
	e      *Engine
	trid   int
	accept func(*Command) bool
	ch     chan *Command // buffered: Deliver never blocks on it
}

// NewEngine returns an engine writing to w; the first transaction id is
// first.
func NewEngine(w *Writer, first int) *Engine {
	return &Engine{w: w, next: first, pending: make(map[int]*Call), done: make(chan struct{})}
}

// Done is closed when Close was called.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err returns ErrEngineClosed wrapping the error given to Close, or nil
// while the engine is open.
func (e *Engine) Err() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.done:
	default:
		return nil
	}
	if e.err == nil {
		return ErrEngineClosed
	}
	return fmt.Errorf("%w: %w", ErrEngineClosed, e.err)
}

// Cause returns the error given to Close (nil while open, or if Close was
// given nil).
func (e *Engine) Cause() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.err
}

// Close fails every waiting request with err (the first Close wins). It
// reports whether this call closed the engine. It does not close the
// connection.
func (e *Engine) Close(err error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	select {
	case <-e.done:
		return false
	default:
	}
	e.err = err
	e.pending = make(map[int]*Call)
	close(e.done)
	return true
}

// NextTrID reserves a transaction id for a command that expects no reply.
func (e *Engine) NextTrID() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	trid := e.next
	e.next++
	return trid
}

// Write writes cmd as it is (PNG and OUT carry no transaction id).
func (e *Engine) Write(cmd *Command) error {
	if err := e.Err(); err != nil {
		return fmt.Errorf("%s: %w", cmd.Name, err)
	}
	return e.w.WriteCommand(cmd)
}

// Send writes cmd with a new transaction id inserted as its first argument,
// without waiting for a reply.
func (e *Engine) Send(cmd *Command) error {
	cmd.Args = append([]string{strconv.Itoa(e.NextTrID())}, cmd.Args...)
	return e.Write(cmd)
}

// Start writes cmd with a new transaction id inserted as its first argument
// and returns the Call that receives its reply. accept chooses which
// commands with that id are the reply (nil: any); numeric errors always
// are. If the write fails nothing is left registered.
func (e *Engine) Start(cmd *Command, accept func(*Command) bool) (*Call, error) {
	e.mu.Lock()
	select {
	case <-e.done:
		e.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", cmd.Name, e.Err())
	default:
	}
	c := &Call{e: e, trid: e.next, accept: accept, ch: make(chan *Command, 1)}
	e.next++
	e.pending[c.trid] = c
	e.mu.Unlock()
	cmd.Args = append([]string{strconv.Itoa(c.trid)}, cmd.Args...)
	if err := e.w.WriteCommand(cmd); err != nil {
		c.Cancel()
		return nil, err
	}
	return c, nil
}

// Deliver hands cmd to the request waiting for its transaction id and
// reports whether it was taken.
func (e *Engine) Deliver(cmd *Command) bool {
	trid, ok := cmd.TrID()
	if !ok || trid == 0 {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	c := e.pending[trid]
	if c == nil || (!cmd.IsError() && c.accept != nil && !c.accept(cmd)) {
		return false
	}
	delete(e.pending, trid)
	c.ch <- cmd
	return true
}

// TrID returns the call's transaction id.
func (c *Call) TrID() int { return c.trid }

// Reply returns the channel the reply arrives on (at most one).
func (c *Call) Reply() <-chan *Command { return c.ch }

// Cancel stops waiting: a reply arriving later is not taken.
func (c *Call) Cancel() {
	c.e.mu.Lock()
	if c.e.pending[c.trid] == c {
		delete(c.e.pending, c.trid)
	}
	c.e.mu.Unlock()
}

// Wait waits for the reply until ctx ends or the engine closes. A reply
// delivered just before the close still counts. On a context error the
// call is cancelled. A numeric error reply is returned as it is (the
// caller decides; Command.Err converts it).
func (c *Call) Wait(ctx context.Context) (*Command, error) {
	select {
	case r := <-c.ch:
		return r, nil
	case <-c.e.done:
		select {
		case r := <-c.ch:
			return r, nil
		default:
		}
		return nil, c.e.Err()
	case <-ctx.Done():
		c.Cancel()
		select {
		case r := <-c.ch: // answered while we gave up
			return r, nil
		default:
		}
		return nil, ctx.Err()
	}
}

// DeadlineWriter bounds every write on a connection, so that a peer that
// stops reading cannot block a writer forever. Deadline returns the
// deadline of the next write.
type DeadlineWriter struct {
	Conn     net.Conn
	Deadline func() time.Time
}

// Write sets the write deadline, then writes p.
func (w DeadlineWriter) Write(p []byte) (int, error) {
	if err := w.Conn.SetWriteDeadline(w.Deadline()); err != nil {
		return 0, err
	}
	return w.Conn.Write(p)
}

// After returns a Deadline function for DeadlineWriter: d from each write.
func After(d time.Duration) func() time.Time {
	return func() time.Time { return time.Now().Add(d) }
}
