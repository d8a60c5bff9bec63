package msnclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// nsConn is one notification-server TCP connection: a reader goroutine and
// the request engine (transaction ids, replies, bounded writes).
type nsConn struct {
	conn           net.Conn
	r              *msnp.Reader
	eng            *msnp.Engine
	log            *zerolog.Logger
	requestTimeout time.Duration
	done           <-chan struct{} // closed when the connection ended

	closeBy atomic.Pointer[time.Time] // once set, the deadline of every write (signing out)
}

// maxNSPayload bounds notification-server payloads: the largest real ones
// (address book notifications, policies, mail data) are a few KiB.
const maxNSPayload = 256 << 10

// nsReadBuffer is the notification server connection's read buffer. It
// lives as long as the session, which is idle nearly all the time, so it
// is small: command lines (presence, keep-alives) fit, longer lines are
// read in pieces and payloads go straight into their own slice.
const nsReadBuffer = 512

// nsKeptBuffer is the largest command buffer the notification server
// connection keeps between commands: presence and keep-alives fit; the
// contact list sent at sign-in (ADL) is not held for the session.
const nsKeptBuffer = 256

func newNSConn(conn net.Conn, log *zerolog.Logger, requestTimeout time.Duration) *nsConn {
	r := msnp.NewReaderSize(conn, msnp.FromServer, nsReadBuffer)
	r.MaxPayload = maxNSPayload
	nc := &nsConn{conn: conn, r: r, log: log, requestTimeout: requestTimeout}
	w := msnp.NewWriter(msnp.DeadlineWriter{Conn: conn, Deadline: nc.writeDeadline})
	w.MaxKeptBuffer = nsKeptBuffer
	nc.eng = msnp.NewEngine(w, 1)
	nc.done = nc.eng.Done()
	return nc
}

// writeDeadline bounds a write by the request timeout, or by the sign-out
// deadline once one was set.
func (nc *nsConn) writeDeadline() time.Time {
	if d := nc.closeBy.Load(); d != nil {
		return *d
	}
	return time.Now().Add(nc.requestTimeout)
}

// signOut writes OUT, bounded by timeout rather than the request timeout: a
// server that stopped reading does not hold up Close.
func (nc *nsConn) signOut(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	nc.closeBy.Store(&deadline)
	return nc.write(msnp.New("OUT"))
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
		if nc.eng.Deliver(cmd) {
			continue
		}
		handle(cmd)
	}
}

// close ends the connection with err (first error wins) and fails every
// pending request.
func (nc *nsConn) close(err error) {
	if nc.eng.Close(err) {
		_ = nc.conn.Close()
	}
}

// closedErr returns the error that ended the connection, wrapped in
// ErrNotConnected.
func (nc *nsConn) closedErr() error {
	err := nc.eng.Cause()
	if err == nil {
		return ErrNotConnected
	}
	return fmt.Errorf("%w: %w", ErrNotConnected, err)
}

// request sends cmd with a new trid and waits for a reply named like cmd (or
// one of also) or a numeric error, which is returned as a *msnp.ServerError.
func (nc *nsConn) request(ctx context.Context, cmd *msnp.Command, also ...string) (*msnp.Command, error) {
	names := append([]string{cmd.Name}, also...)
	call, err := nc.eng.Start(cmd, func(r *msnp.Command) bool { return slices.Contains(names, r.Name) })
	nc.log.Trace().Str("cmd", cmd.Redacted()).Msg("NS ->")
	if err != nil {
		return nil, nc.writeFailed(cmd, err)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, nc.requestTimeout, ErrTimeout)
	defer cancel()
	reply, err := call.Wait(ctx)
	switch {
	case err == nil:
		if err := reply.Err(); err != nil {
			return reply, fmt.Errorf("%s: %w", cmd.Name, err)
		}
		return reply, nil
	case errors.Is(err, msnp.ErrEngineClosed):
		return nil, fmt.Errorf("%s: %w", cmd.Name, nc.closedErr())
	case errors.Is(context.Cause(ctx), ErrTimeout):
		return nil, fmt.Errorf("%s: %w", cmd.Name, ErrTimeout)
	}
	return nil, fmt.Errorf("%s: %w", cmd.Name, err)
}

// send writes cmd with a new trid without waiting for a reply.
func (nc *nsConn) send(cmd *msnp.Command) error {
	err := nc.eng.Send(cmd)
	nc.log.Trace().Str("cmd", cmd.Redacted()).Msg("NS ->")
	if err != nil {
		return nc.writeFailed(cmd, err)
	}
	return nil
}

// write writes cmd as is (PNG and OUT have no trid).
func (nc *nsConn) write(cmd *msnp.Command) error {
	nc.log.Trace().Str("cmd", cmd.Redacted()).Msg("NS ->")
	if err := nc.eng.Write(cmd); err != nil {
		return nc.writeFailed(cmd, err)
	}
	return nil
}

// writeFailed turns a failed write into the error to return. A command that
// could not be built leaves the connection as it was; any other failure
// (a write error or timeout) leaves the stream unusable and ends it.
func (nc *nsConn) writeFailed(cmd *msnp.Command, err error) error {
	switch {
	case errors.Is(err, msnp.ErrInvalidParam) || errors.Is(err, msnp.ErrInvalidName):
		return fmt.Errorf("build %s: %w", cmd.Name, err)
	case errors.Is(err, msnp.ErrEngineClosed):
		return fmt.Errorf("%s: %w", cmd.Name, nc.closedErr())
	}
	nc.close(err)
	return fmt.Errorf("send %s: %w", cmd.Name, err)
}
