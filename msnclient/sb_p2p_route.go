package msnclient

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// errP2PSwitchboardLost is returned for a chunk of a P2P message whose
// earlier chunks went on a switchboard that can no longer carry it.
var errP2PSwitchboardLost = errors.New("msn: the switchboard carrying this P2P message closed before its last chunk")

// p2pChunk is where a P2P payload lies in its message.
type p2pChunk struct {
	id    uint32
	first bool // the message's first chunk, or not a chunked message
	last  bool // the message's last chunk, or not a chunked message
}

// single reports whether the payload is a whole message.
func (ch p2pChunk) single() bool { return ch.first && ch.last }

// p2pChunkOf returns the position of a P2P version 1 payload in its
// message. Acknowledgements, version 2 packets (queued and sent one at a
// time, in order) and anything unparsable count as whole messages.
func p2pChunkOf(payload []byte) p2pChunk {
	whole := p2pChunk{first: true, last: true}
	env, err := p2p.ParseEnvelope(payload)
	if err != nil {
		return whole
	}
	pkt, err := p2p.ParsePacket(env.Body)
	if err != nil || pkt.IsAck() {
		return whole
	}
	h := pkt.Header
	return p2pChunk{id: h.Identifier, first: h.Offset == 0, last: h.Offset+uint64(h.MessageSize) >= h.TotalSize}
}

// p2pPin names a P2P message being sent: the peer and the message id.
type p2pPin struct {
	peer string
	id   uint32
}

// p2pSwitchboard returns the switchboard a P2P payload to peer goes on.
//
// The chunks of one message all go on the switchboard its first chunk
// went on: two switchboards relay independently, so chunks split over two
// can reach the peer out of order, and the peer (like Pidgin and WLM, which
// reassemble per contact, not per switchboard) then drops those before the
// message's start and waits for ever for the rest. If that switchboard can
// no longer carry the message, errP2PSwitchboardLost is returned: the
// message fails rather than continuing elsewhere with a hole.
//
// Other messages go on the switchboard the peer last sent P2P on while it
// is open and the peer in it; nil means on the conversation's.
func (st *p2pState) p2pSwitchboard(peer string, ch p2pChunk) (*sbConn, error) {
	st.routeMu.Lock()
	defer st.routeMu.Unlock()
	if !ch.first {
		sb := st.pins[p2pPin{peer, ch.id}]
		if sb == nil || !sb.usable() || !slices.Contains(sb.Participants(), peer) {
			delete(st.pins, p2pPin{peer, ch.id})
			return nil, fmt.Errorf("%w: %w", ErrNotDelivered, errP2PSwitchboardLost)
		}
		return sb, nil
	}
	sb := st.route[peer]
	if sb != nil && sb.usable() && slices.Contains(sb.Participants(), peer) {
		return sb, nil
	}
	return nil, nil
}

// p2pWritten records where a chunk was written (sb, nil if it was not)
// and whether it failed: the first chunk of a longer message pins the
// message to its switchboard; the last chunk or a failure releases it.
func (st *p2pState) p2pWritten(peer string, ch p2pChunk, sb *sbConn, err error) {
	if ch.single() {
		return
	}
	key := p2pPin{peer, ch.id}
	st.routeMu.Lock()
	defer st.routeMu.Unlock()
	if err != nil || sb == nil || ch.last {
		delete(st.pins, key)
		return
	}
	if ch.first {
		for k, old := range st.pins {
			if old.isClosed() {
				delete(st.pins, k) // a message abandoned without a failed chunk
			}
		}
		st.pins[key] = sb
	}
}

// lostIfClosed names errP2PSwitchboardLost for a later chunk of a message
// refused because its switchboard closed meanwhile.
func lostIfClosed(ch p2pChunk, err error) error {
	if !ch.first && errors.Is(err, errSBClosed) {
		return fmt.Errorf("%w: %w", ErrNotDelivered, errP2PSwitchboardLost)
	}
	return err
}
