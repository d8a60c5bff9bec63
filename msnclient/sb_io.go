package msnclient

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

func (sb *sbConn) isClosed() bool {
	select {
	case <-sb.done:
		return true
	default:
		return false
	}
}

// usable reports whether new messages may be sent on the switchboard: it
// is neither closing, closed nor retired after a missing acknowledgement.
func (sb *sbConn) usable() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return !sb.closing && !sb.retiring
}

// touch records activity for the idle timeout.
func (sb *sbConn) touch() {
	sb.mu.Lock()
	sb.lastActive = time.Now()
	sb.mu.Unlock()
}

// touchToSend records activity before a send. It returns false if the
// switchboard is closing or retired: checked in the same critical section
// as the idle check, so a message is never written to a switchboard that
// the idle timer is about to close.
func (sb *sbConn) touchToSend() bool {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	if sb.closing || sb.retiring {
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
	sb.mu.Unlock()
	sb.log.Debug().Msg("closing idle switchboard")
	sb.closeBefore(time.Now().Add(sb.s.closeTimeout))
}

// close leaves the session (OUT, bounded by the close timeout) and closes
// the connection. The read loop finishes the cleanup.
func (sb *sbConn) close() { sb.closeBefore(time.Now().Add(sb.s.closeTimeout)) }

// closeBefore is close with the OUT bounded by deadline. It returns once
// OUT was written (or the deadline passed) and the connection closed.
func (sb *sbConn) closeBefore(deadline time.Time) {
	sb.mu.Lock()
	if sb.closing {
		sb.mu.Unlock()
		return
	}
	sb.closing = true // a send from now on is refused
	sb.closeBy = deadline
	sb.mu.Unlock()
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
			if errors.Is(err, msnp.ErrPayloadTooLarge) || errors.Is(err, msnp.ErrLineTooLong) || errors.Is(err, msnp.ErrBadLength) {
				sb.log.Warn().Err(err).Msg("Switchboard server broke the protocol, dropping the connection")
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
		if !sb.eng.Deliver(cmd) {
			sb.log.Debug().Str("cmd", cmd.Redacted()).Msg("unexpected switchboard command")
		}
	}
	return true
}

// finish runs once when the read loop ends.
func (sb *sbConn) finish(err error) {
	sb.mu.Lock()
	wasClosing := sb.closing
	if !wasClosing {
		sb.closing = true
		sb.closeBy = time.Now().Add(sb.s.closeTimeout)
	}
	if sb.idleTimer != nil {
		sb.idleTimer.Stop()
	}
	parts := sb.lastParts
	sb.mu.Unlock()
	sb.eng.Close(errSBClosed)
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
	call, err := sb.eng.Start(cmd, nil)
	if err != nil {
		return nil, sb.writeFailed(cmd, err)
	}
	reply, err := call.Wait(ctx)
	if errors.Is(err, msnp.ErrEngineClosed) {
		return nil, errSBClosed
	}
	return reply, err
}

// writeFailed turns a failed write into the error to return: errSBClosed
// if the switchboard had closed (nothing was written), else the write
// error, after closing the switchboard (a failed or timed-out write leaves
// the stream unusable).
func (sb *sbConn) writeFailed(cmd *msnp.Command, err error) error {
	if errors.Is(err, msnp.ErrEngineClosed) || sb.isClosed() {
		return errSBClosed
	}
	sb.close()
	return fmt.Errorf("send %s: %w", cmd.Name, err)
}

// sendMessage sends one MSG payload. With mode "A" or "D" it waits for the
// ACK; other modes return once written. id identifies the message in a
// late MessageAcknowledged event. errSBClosed means nothing was written
// (another switchboard may be tried); once the message was written
// without an acknowledgement, the error is an *UnconfirmedError.
func (sb *sbConn) sendMessage(ctx context.Context, mode string, payload []byte, id uint64) error {
	wait, err := sb.startMessage(mode, payload, id)
	if err != nil {
		return err
	}
	return wait(ctx)
}

// startMessage writes one MSG payload and returns at once with a function
// that waits for its ACK (mode "A" or "D"; other modes: nothing to wait
// for), as sendMessage describes. Messages written one after the other go
// out in that order, and their ACKs can be awaited later: P2P chunks are
// pipelined this way, as real clients do.
func (sb *sbConn) startMessage(mode string, payload []byte, id uint64) (wait func(context.Context) error, err error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("message payload of %d bytes is over the %d-byte limit", len(payload), maxPayload)
	}
	if !sb.touchToSend() {
		return nil, errSBClosed
	}
	cmd := msnp.NewPayload("MSG", payload, mode)
	if mode != "A" && mode != "D" {
		if err := sb.eng.Send(cmd); err != nil {
			return nil, sb.writeFailed(cmd, err)
		}
		return func(context.Context) error { return nil }, nil
	}
	call, err := sb.eng.Start(cmd, nil)
	if err != nil {
		err = sb.writeFailed(cmd, err)
		if errors.Is(err, errSBClosed) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrNotDelivered, err)
	}
	// From here on the message is on its way: it is never sent again.
	return func(ctx context.Context) error {
		select {
		case reply := <-call.Reply():
			return ackResult(reply)
		case <-sb.eng.Done():
			select {
			case reply := <-call.Reply(): // answered just before the close
				return ackResult(reply)
			default:
			}
			return &UnconfirmedError{ID: id, Err: errSBClosed}
		case <-ctx.Done():
		}
		// The caller gave up (or the request timed out): the transaction
		// stays registered, and an acknowledgement that still comes is
		// reported as an event.
		sb.awaitLate(call, id)
		err := ctx.Err()
		if errors.Is(err, context.DeadlineExceeded) {
			err = ErrTimeout
		}
		return &UnconfirmedError{ID: id, Late: true, Err: err}
	}, nil
}

// ackResult interprets the reply to a MSG.
func ackResult(reply *msnp.Command) error {
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

// awaitLate keeps waiting for the acknowledgement of a message whose sender
// gave up, and reports it as MessageAcknowledged. The transaction stays
// registered until the reply comes or the switchboard closes.
func (sb *sbConn) awaitLate(call *msnp.Call, id uint64) {
	sb.mu.Lock()
	sb.late++
	sb.mu.Unlock()
	go func() {
		var reply *msnp.Command
		select {
		case reply = <-call.Reply():
		case <-sb.done:
			select {
			case reply = <-call.Reply():
			default:
			}
		}
		if reply != nil {
			delivered := ackResult(reply) == nil
			sb.log.Debug().Bool("delivered", delivered).Uint64("msg_id", id).Msg("Late acknowledgement")
			sb.s.c.emit(&MessageAcknowledged{ConversationEvent: ConversationEvent{Participants: sb.members()}, ID: id, Delivered: delivered})
		}
		sb.mu.Lock()
		sb.late--
		settled := sb.late == 0 && sb.retiring
		sb.mu.Unlock()
		if settled {
			sb.close()
		}
	}()
}

// retire stops new sends on a switchboard whose server did not acknowledge
// a message in time (it may have died silently): the next message opens a
// new one. It stays open, reading, until the missing acknowledgements came
// or the idle timeout passed, so that a late acknowledgement is seen.
func (sb *sbConn) retire() {
	sb.mu.Lock()
	if sb.retiring || sb.closing {
		sb.mu.Unlock()
		return
	}
	sb.retiring = true
	settled := sb.late == 0
	sb.mu.Unlock()
	if settled {
		sb.close()
		return
	}
	time.AfterFunc(sb.s.idleTimeout(), sb.close)
}
