package msnclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// DefaultMaxPictureSize is the largest display picture fetched or served
// when Config.MaxPictureSize is unset.
const DefaultMaxPictureSize = 1 << 20

// p2pState is the client's P2P transport (through switchboards) and the
// applications on it.
type p2pState struct {
	m       *p2p.Manager
	objects *p2p.Objects
	// own is our display picture as served, nil when none (Client.mu).
	own *p2p.MSNObject

	routeMu sync.Mutex
	// route is, per peer, the switchboard their last P2P message (or
	// custom emoticon definition, emoticons.go) came on: answers go back
	// on it while it is open, as a peer may handle P2P per switchboard.
	route map[string]*sbConn
	// pins holds, per message being sent in chunks, the switchboard its
	// first chunk went on (sb_p2p_route.go).
	pins map[p2pPin]*sbConn
}

// p2pApps returns the client's P2P state, creating it on first use.
func (c *Client) p2pApps() *p2pState {
	c.p2pOnce.Do(func() {
		maxSize := c.cfg.MaxPictureSize
		if maxSize <= 0 {
			maxSize = DefaultMaxPictureSize
		}
		m := p2p.NewManager(p2p.Config{
			Self:        c.Email(),
			SelfGUID:    c.guid,
			Send:        c.sendP2P,
			Start:       c.startP2P,
			MaxDataSize: maxSize,
			CallTimeout: c.cfg.P2PTimeout,
			Logger:      c.log.With().Str("component", "p2p").Logger(),
		})
		c.p2p = &p2pState{m: m, objects: p2p.NewObjects(m), route: make(map[string]*sbConn), pins: make(map[p2pPin]*sbConn)}
		m.HandleInvites(p2p.EUFGUIDFile, c.handleFileInvite)
		m.HandleBare(inkSessionID, maxP2PInk, c.handleP2PInk)
	})
	return c.p2p
}

// sendP2P sends one P2P payload to peer: on the switchboard the peer last
// sent P2P on while it is open, else on the conversation with them
// (opened if needed); a later chunk of a message on the switchboard its
// first chunk went on (p2pSwitchboard). P2P goes with acknowledgement
// mode D, as Escargot requires.
func (c *Client) sendP2P(ctx context.Context, peer string, payload []byte) error {
	st := c.p2p
	ch := p2pChunkOf(payload)
	sb, err := st.p2pSwitchboard(peer, ch)
	if err != nil {
		return err
	}
	if sb != nil {
		actx, cancel := context.WithTimeout(ctx, c.sb.requestTimeout())
		// The id only matters for a late acknowledgement, which no one
		// waits for here: it is taken from the conversations' counter so
		// as not to collide with a text message's.
		err := sb.sendMessage(actx, "D", payload, c.sb.nextMsgID.Add(1))
		cancel()
		if !ch.first || !errors.Is(err, errSBClosed) {
			st.p2pWritten(peer, ch, sb, err)
			return lostIfClosed(ch, err)
		}
	}
	sb, err = c.Conversation(peer).sendVia(ctx, "D", payload)
	st.p2pWritten(peer, ch, sb, err)
	return err
}

// startP2P writes one P2P payload to peer like sendP2P and returns at once
// with a function that waits for the switchboard's acknowledgement, so
// that the chunks of a transfer are pipelined. Without a switchboard the
// peer is on, it sends as sendP2P does (opening one) and the wait returns
// its result.
func (c *Client) startP2P(ctx context.Context, peer string, payload []byte) (func() error, error) {
	st := c.p2p
	ch := p2pChunkOf(payload)
	sb, err := st.p2pSwitchboard(peer, ch)
	if err != nil {
		return nil, err
	}
	if sb != nil {
		wait, err := sb.startMessage("D", payload, c.sb.nextMsgID.Add(1))
		if err == nil {
			st.p2pWritten(peer, ch, sb, nil)
			timeout := c.sb.requestTimeout()
			return func() error {
				actx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				err := wait(actx)
				if err != nil {
					st.p2pWritten(peer, ch, sb, err)
				}
				return err
			}, nil
		}
		if !ch.first || !errors.Is(err, errSBClosed) {
			st.p2pWritten(peer, ch, sb, err)
			return nil, lostIfClosed(ch, err)
		}
	}
	sb, err = c.Conversation(peer).sendVia(ctx, "D", payload)
	st.p2pWritten(peer, ch, sb, err)
	if err != nil {
		return nil, err
	}
	return func() error { return nil }, nil
}

// abortP2P ends the P2P calls in progress when the session ends: their
// switchboards are gone.
func (c *Client) abortP2P() {
	c.p2pApps().m.Abort(ErrNotConnected)
}

// isP2PPayload reports whether a switchboard payload is a P2P message.
func isP2PPayload(payload []byte) bool {
	head, _, _ := bytes.Cut(payload, []byte("\r\n\r\n"))
	if !bytes.Contains(bytes.ToLower(head), []byte(p2p.ContentType)) {
		return false // cheap test first: most messages are text
	}
	return parseMessage(append(head[:len(head):len(head)], "\r\n\r\n"...)).ContentType() == p2p.ContentType
}

// handleP2P passes a P2P message relayed from a switchboard participant
// to the transport. It never blocks the switchboard reader.
func (c *Client) handleP2P(sb *sbConn, from string, payload []byte) {
	if strings.EqualFold(from, c.Email()) {
		return // from another endpoint of ours
	}
	st := c.p2pApps()
	st.routeMu.Lock()
	for peer, old := range st.route {
		if old.isClosed() {
			delete(st.route, peer)
		}
	}
	if movesRoute(payload) {
		st.route[from] = sb
	}
	st.routeMu.Unlock()
	st.m.HandleMessage(from, payload)
}

// movesRoute reports whether a P2P message moves the peer's route to the
// switchboard it came on. Acknowledgements do not: they answer what we
// sent on that switchboard and can arrive after the peer has started a new
// call on another one (Pidgin and WLM keep one P2P link per contact, not
// per switchboard), where our answers must then go.
func movesRoute(payload []byte) bool {
	env, err := p2p.ParseEnvelope(payload)
	if err != nil {
		return false
	}
	h, err := p2p.ParseHeader(env.Body)
	return err == nil && !h.IsAck()
}

// FetchDisplayPicture fetches a contact's display picture over P2P, as
// described by the MSNObject of their presence, and returns it once its
// SHA-1 matches the object's SHA1D. It fails for pictures over
// Config.MaxPictureSize and when the contact does not answer in time.
func (c *Client) FetchDisplayPicture(ctx context.Context, email, msnObject string) ([]byte, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	if _, err := checkEmail(email); err != nil {
		return nil, fmt.Errorf("fetch display picture: %w", err)
	}
	obj, err := p2p.ParseMSNObject(msnObject)
	if err != nil {
		return nil, fmt.Errorf("fetch display picture of %s: %w", email, err)
	}
	if _, err := c.connected(); err != nil {
		return nil, fmt.Errorf("fetch display picture of %s: %w", email, err)
	}
	data, err := c.p2pApps().objects.Fetch(ctx, email, obj, 0)
	if err != nil {
		return nil, fmt.Errorf("fetch display picture: %w", err)
	}
	return data, nil
}

// SetDisplayPictureData makes data (a PNG, as MSN clients expect) our
// display picture: it is announced in an MSNObject with our status and
// served over P2P to every contact who asks. Nil data removes the picture.
// It returns the MSNObject announced ("" for none).
//
// Escargot does not pass on a change of the MSNObject alone: contacts
// already online see the new picture after our next status change.
func (c *Client) SetDisplayPictureData(ctx context.Context, data []byte) (string, error) {
	maxSize := c.cfg.MaxPictureSize
	if maxSize <= 0 {
		maxSize = DefaultMaxPictureSize
	}
	if int64(len(data)) > maxSize {
		return "", fmt.Errorf("set display picture: %d bytes, over the %d-byte limit", len(data), maxSize)
	}
	st := c.p2pApps()
	var obj *p2p.MSNObject
	if len(data) > 0 {
		obj = p2p.NewMSNObject(c.Email(), p2p.ObjectDisplayPicture, data, "0", "")
	}
	c.mu.Lock()
	old := st.own
	st.own = obj
	c.mu.Unlock()
	text := ""
	if obj != nil {
		st.objects.Serve(obj, data)
		text = obj.String()
	}
	if old != nil && (obj == nil || old.SHA1D != obj.SHA1D) {
		// Keep the old one a little for requests already on their way.
		time.AfterFunc(time.Minute, func() { st.objects.Unserve(old.SHA1D) })
	}
	if err := c.SetDisplayPicture(ctx, text); err != nil {
		return "", err
	}
	return text, nil
}

// initDisplayPicture announces Config.DisplayPicture from the first
// status on, so that contacts see it at login (a later change of the
// MSNObject alone is not passed on by Escargot).
func (c *Client) initDisplayPicture() {
	if len(c.cfg.DisplayPicture) == 0 {
		return
	}
	if _, err := c.SetDisplayPictureData(context.Background(), c.cfg.DisplayPicture); err != nil {
		c.log.Warn().Err(err).Msg("Not using the configured display picture")
	}
}

// P2PInFlight reports how many P2P messages are being reassembled and how
// many P2P calls are open (for tests and metrics).
func (c *Client) P2PInFlight() (messages, calls int) {
	return c.p2pApps().m.InFlight()
}
