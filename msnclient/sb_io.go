package msnclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// nextTrID reserves a transaction id and a channel for its replies.
func (sb *sbConn) nextTrID() (int, chan *msnp.Command) {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	sb.trid++
	ch := make(chan *msnp.Command, 1)
	sb.pending[sb.trid] = ch
	return sb.trid, ch
}

func (sb *sbConn) forget(trid int) {
	sb.mu.Lock()
	delete(sb.pending, trid)
	sb.mu.Unlock()
}

func (sb *sbConn) isClosed() bool {
	select {
	case <-sb.done:
		return true
	default:
		return false
	}
}

// usable reports whether new messages may be sent on the switchboard: it
// is neither closing nor closed.
func (sb *sbConn) usable() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return !sb.closing
}

// touch records activity for the idle timeout.
func (sb *sbConn) touch() {
	sb.mu.Lock()
	sb.lastActive = time.Now()
	sb.mu.Unlock()
}

// touchToSend records activity before a send. It returns false if the
// switchboard is closing: checked in the same critical section as the
// idle check, so a message is never written to a switchboard that the idle
// timer is about to close.
func (sb *sbConn) touchToSend() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closing {
		return false
	}
	sb.lastActive = time.Now()
	return true
}

// start launches the read loop and the idle timer after the handshake.
func (sb *sbConn) start() {
	timeout := sb.s.idleTimeout()
	sb.mu.Lock()
	sb.idleTimer = time.AfterFunc(timeout, sb.checkIdle)
	sb.mu.Unlock()
	go sb.readLoop()
}

func (sb *sbConn) checkIdle() {
	timeout := sb.s.idleTimeout()
	sb.mu.Lock()
	if sb.closing {
		sb.mu.Unlock()
		return
	}
	left := timeout - time.Since(sb.lastActive)
	if left > 0 {
		sb.idleTimer.Reset(left)
		sb.mu.Unlock()
		return
	}
	sb.closing = true // with the idle check: a send from now on is refused
	sb.mu.Unlock()
	sb.log.Debug().Msg("closing idle switchboard")
	sb.leave()
}

// close leaves the session (OUT) and closes the connection. The read loop
// finishes the cleanup.
func (sb *sbConn) close() {
	sb.mu.Lock()
	if sb.closing {
		sb.mu.Unlock()
		return
	}
	sb.closing = true
	sb.mu.Unlock()
	sb.leave()
}

// leave sends OUT (bounded by closeWriteTimeout) and closes the connection.
func (sb *sbConn) leave() {
	_ = sb.w.WriteCommand(msnp.New("OUT"))
	_ = sb.conn.Close()
}

// readLoop reads until the connection ends, then fails everything pending.
func (sb *sbConn) readLoop() {
	var err error
	for {
		var cmd *msnp.Command
		cmd, err = sb.r.ReadCommand()
		if err != nil {
			var se *msnp.SyntaxError
			if errors.As(err, &se) {
				sb.log.Debug().Err(err).Msg("ignoring malformed switchboard line")
				continue
			}
			break
		}
		if !sb.handle(cmd) {
			break
		}
	}
	sb.finish(err)
}

// handle processes one command; false ends the connection.
func (sb *sbConn) handle(cmd *msnp.Command) bool {
	switch cmd.Name {
	case "MSG":
		sb.touch()
		sb.handleMessage(cmd)
	case "JOI":
		sb.addParticipant(cmd.Arg(0), msnp.DecodeParam(cmd.Arg(1)), true)
	case "IRO":
		sb.addParticipant(cmd.Arg(3), msnp.DecodeParam(cmd.Arg(4)), true)
	case "BYE":
		if sb.removeParticipant(cmd.Arg(0)) {
			sb.log.Debug().Msg("last participant left, closing switchboard")
			return false
		}
	case "OUT":
		return false
	default:
		if trid, ok := cmd.TrID(); ok {
			sb.mu.Lock()
			ch := sb.pending[trid]
			delete(sb.pending, trid)
			sb.mu.Unlock()
			if ch != nil {
				ch <- cmd
				return true
			}
		}
		sb.log.Debug().Str("cmd", cmd.Redacted()).Msg("unexpected switchboard command")
	}
	return true
}

// finish runs once when the read loop ends.
func (sb *sbConn) finish(err error) {
	sb.mu.Lock()
	wasClosing := sb.closing
	sb.closing = true
	if sb.idleTimer != nil {
		sb.idleTimer.Stop()
	}
	sb.pending = map[int]chan *msnp.Command{}
	parts := sb.lastParts
	sb.mu.Unlock()
	if !wasClosing {
		_ = sb.w.WriteCommand(msnp.New("OUT"))
	}
	_ = sb.conn.Close()
	sb.chunks.close()
	close(sb.done)
	sb.s.remove(sb)
	sb.log.Debug().AnErr("read_error", err).Strs("participants", parts).Msg("switchboard closed")
	if len(parts) > 0 {
		sb.s.c.emit(&ConversationClosed{ConversationEvent: ConversationEvent{Participants: parts}})
	}
}

// request sends cmd with a fresh transaction id (set as Args[0]) and waits
// for the reply with that id.
func (sb *sbConn) request(ctx context.Context, cmd *msnp.Command) (*msnp.Command, error) {
	trid, ch := sb.nextTrID()
	cmd.Args = append([]string{fmt.Sprint(trid)}, cmd.Args...)
	if err := sb.w.WriteCommand(cmd); err != nil {
		sb.forget(trid)
		if sb.isClosed() {
			return nil, errSBClosed
		}
		sb.close() // a failed or timed-out write leaves the stream unusable
		return nil, fmt.Errorf("send %s: %w", cmd.Name, err)
	}
	select {
	case reply := <-ch:
		return reply, nil
	case <-sb.done:
		select {
		case reply := <-ch: // answered just before the close
			return reply, nil
		default:
			return nil, errSBClosed
		}
	case <-ctx.Done():
		sb.forget(trid)
		return nil, ctx.Err()
	}
}

// sendMessage sends one MSG payload. With mode "A" or "D" it waits for the
// ACK; other modes return once written.
func (sb *sbConn) sendMessage(ctx context.Context, mode string, payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("message payload of %d bytes is over the %d-byte limit", len(payload), maxPayload)
	}
	if !sb.touchToSend() {
		return errSBClosed
	}
	if mode != "A" && mode != "D" {
		trid, _ := sb.nextTrID()
		sb.forget(trid)
		if err := sb.w.WriteCommand(msnp.NewPayload("MSG", payload, fmt.Sprint(trid), mode)); err != nil {
			if sb.isClosed() {
				return errSBClosed
			}
			sb.close() // a failed or timed-out write leaves the stream unusable
			return fmt.Errorf("send message: %w", err)
		}
		return nil
	}
	reply, err := sb.request(ctx, msnp.NewPayload("MSG", payload, mode))
	if err != nil {
		return err
	}
	switch {
	case reply.Name == "ACK":
		return nil
	case reply.Name == "NAK":
		return ErrNotDelivered
	case reply.IsError():
		return fmt.Errorf("%w: %w", ErrNotDelivered, reply.Err())
	}
	return fmt.Errorf("%w: unexpected reply %s", ErrNotDelivered, reply.Name)
}
