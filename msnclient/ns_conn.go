package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// nsConn is one notification-server TCP connection: a reader goroutine, a
// synchronised writer, transaction ids and the requests waiting for replies.
type nsConn struct {
	conn           net.Conn
	r              *msnp.Reader
	w              *msnp.Writer
	log            *zerolog.Logger
	requestTimeout time.Duration

	mu       sync.Mutex
	nextTrID int
	pending  map[int]*pendingRequest
	err      error         // why the connection ended
	done     chan struct{} // closed when the connection ended
}

// pendingRequest waits for the reply to one command.
type pendingRequest struct {
	names []string           // reply names accepted besides numeric errors
	ch    chan *msnp.Command // buffered: the reader never blocks on it
}

// deadlineWriter bounds every write so that a peer that stops reading cannot
// block a writer forever.
type deadlineWriter struct {
	conn    net.Conn
	timeout time.Duration
}

func (w deadlineWriter) Write(p []byte) (int, error) {
	if err := w.conn.SetWriteDeadline(time.Now().Add(w.timeout)); err != nil {
		return 0, err
	}
	return w.conn.Write(p)
}

// maxNSPayload bounds notification-server payloads: the largest real ones
// (address book notifications, policies, mail data) are a few KiB.
const maxNSPayload = 256 << 10

func newNSConn(conn net.Conn, log *zerolog.Logger, requestTimeout time.Duration) *nsConn {
	r := msnp.NewReader(conn, msnp.FromServer)
	r.MaxPayload = maxNSPayload
	return &nsConn{
		conn:           conn,
		r:              r,
		w:              msnp.NewWriter(deadlineWriter{conn: conn, timeout: requestTimeout}),
		log:            log,
		requestTimeout: requestTimeout,
		nextTrID:       1,
		pending:        make(map[int]*pendingRequest),
		done:           make(chan struct{}),
	}
}

// readLoop reads commands until the connection fails, routing replies to
// their requests and passing everything else to handle (in order, on this
// goroutine). deadTimeout bounds the silence between two commands.
func (nc *nsConn) readLoop(deadTimeout time.Duration, handle func(*msnp.Command)) error {
	for {
		if err := nc.conn.SetReadDeadline(time.Now().Add(deadTimeout)); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		cmd, err := nc.r.ReadCommand()
		if err != nil {
			var syn *msnp.SyntaxError
			if errors.As(err, &syn) {
				nc.log.Warn().Err(err).Msg("Skipping malformed line from notification server")
				continue
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("no traffic from notification server for %s: %w", deadTimeout, err)
			}
			return fmt.Errorf("read from notification server: %w", err)
		}
		nc.log.Trace().Str("cmd", cmd.Redacted()).Msg("NS <-")
		if nc.deliverReply(cmd) {
			continue
		}
		handle(cmd)
	}
}

// deliverReply hands cmd to the request waiting for its trid, if any.
func (nc *nsConn) deliverReply(cmd *msnp.Command) bool {
	trid, ok := cmd.TrID()
	if !ok || trid == 0 {
		return false
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	p := nc.pending[trid]
	if p == nil {
		return false
	}
	if !cmd.IsError() && !containsString(p.names, cmd.Name) {
		return false
	}
	delete(nc.pending, trid)
	p.ch <- cmd
	return true
}

// close ends the connection with err (first error wins) and fails every
// pending request.
func (nc *nsConn) close(err error) {
	nc.mu.Lock()
	select {
	case <-nc.done:
		nc.mu.Unlock()
		return
	default:
	}
	nc.err = err
	close(nc.done)
	nc.pending = make(map[int]*pendingRequest)
	nc.mu.Unlock()
	_ = nc.conn.Close()
}

// closedErr returns the error that ended the connection, wrapped in
// ErrNotConnected.
func (nc *nsConn) closedErr() error {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.err == nil {
		return ErrNotConnected
	}
	return fmt.Errorf("%w: %w", ErrNotConnected, nc.err)
}

// register allocates a trid for a request expecting one of names.
func (nc *nsConn) register(names []string) (int, *pendingRequest, error) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	select {
	case <-nc.done:
		return 0, nil, ErrNotConnected
	default:
	}
	trid := nc.nextTrID
	nc.nextTrID++
	p := &pendingRequest{names: names, ch: make(chan *msnp.Command, 1)}
	nc.pending[trid] = p
	return trid, p, nil
}

func (nc *nsConn) unregister(trid int) {
	nc.mu.Lock()
	delete(nc.pending, trid)
	nc.mu.Unlock()
}

// request sends cmd with a new trid and waits for a reply named like cmd (or
// one of also) or a numeric error, which is returned as a *msnp.ServerError.
func (nc *nsConn) request(ctx context.Context, cmd *msnp.Command, also ...string) (*msnp.Command, error) {
	names := append([]string{cmd.Name}, also...)
	trid, p, err := nc.register(names)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd.Name, nc.closedErr())
	}
	cmd.Args = append([]string{strconv.Itoa(trid)}, cmd.Args...)
	if err := nc.write(cmd); err != nil {
		nc.unregister(trid)
		return nil, err
	}
	timer := time.NewTimer(nc.requestTimeout)
	defer timer.Stop()
	reply := func(reply *msnp.Command) (*msnp.Command, error) {
		if err := reply.Err(); err != nil {
			return reply, fmt.Errorf("%s: %w", cmd.Name, err)
		}
		return reply, nil
	}
	select {
	case r := <-p.ch:
		return reply(r)
	case <-ctx.Done():
		nc.unregister(trid)
		return nil, fmt.Errorf("%s: %w", cmd.Name, ctx.Err())
	case <-timer.C:
		nc.unregister(trid)
		return nil, fmt.Errorf("%s: %w", cmd.Name, ErrTimeout)
	case <-nc.done:
		// A reply read just before the connection ended still counts
		// (XFR NS followed by a close).
		select {
		case r := <-p.ch:
			return reply(r)
		default:
		}
		return nil, fmt.Errorf("%s: %w", cmd.Name, nc.closedErr())
	}
}

// send writes cmd with a new trid without waiting for a reply.
func (nc *nsConn) send(cmd *msnp.Command) error {
	nc.mu.Lock()
	trid := nc.nextTrID
	nc.nextTrID++
	nc.mu.Unlock()
	cmd.Args = append([]string{strconv.Itoa(trid)}, cmd.Args...)
	return nc.write(cmd)
}

// write writes cmd as is (PNG and OUT have no trid).
func (nc *nsConn) write(cmd *msnp.Command) error {
	select {
	case <-nc.done:
		return fmt.Errorf("%s: %w", cmd.Name, nc.closedErr())
	default:
	}
	nc.log.Trace().Str("cmd", cmd.Redacted()).Msg("NS ->")
	if err := nc.w.WriteCommand(cmd); err != nil {
		if errors.Is(err, msnp.ErrInvalidParam) || errors.Is(err, msnp.ErrInvalidName) {
			return fmt.Errorf("build %s: %w", cmd.Name, err)
		}
		nc.close(err)
		return fmt.Errorf("send %s: %w", cmd.Name, err)
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
