package p2p

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
)

// EUFGUIDMSNObject is the EUF-GUID of MSN object transfers (display
// pictures, custom emoticons).
const EUFGUIDMSNObject = "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}"

// AppIDMSNObject is the application id we use for MSN object requests:
// libpurple uses 1 with every client, and WLM answers it.
const AppIDMSNObject = 1

// Objects is the MSN object application: it serves our own objects (the
// display picture) to peers who ask and fetches peers' objects.
type Objects struct {
	m *Manager

	mu    sync.Mutex
	owned map[string][]byte // SHA1D -> data we serve
}

// NewObjects registers the MSN object application on m.
func NewObjects(m *Manager) *Objects {
	o := &Objects{m: m, owned: make(map[string][]byte)}
	m.HandleInvites(EUFGUIDMSNObject, o.handleInvite)
	return o
}

// Serve makes data available to peers who ask for obj; Unserve stops it.
func (o *Objects) Serve(obj *MSNObject, data []byte) {
	o.mu.Lock()
	o.owned[obj.SHA1D] = data
	o.mu.Unlock()
}

// Unserve stops serving the object with this SHA1D.
func (o *Objects) Unserve(sha1d string) {
	o.mu.Lock()
	delete(o.owned, sha1d)
	o.mu.Unlock()
}

// handleInvite accepts a request for an object we serve and declines the
// others (an older picture, an emoticon we no longer have).
func (o *Objects) handleInvite(_ context.Context, peer string, inv *Invite) Answer {
	ctxText := string(bytes.TrimRight(inv.Context, "\x00"))
	obj, err := ParseMSNObject(ctxText)
	if err != nil {
		o.m.log.Warn().Err(err).Str("peer", peer).Msg("Declining MSN object request with a bad Context")
		return Answer{}
	}
	o.mu.Lock()
	data, ok := o.owned[obj.SHA1D]
	o.mu.Unlock()
	if !ok || !strings.EqualFold(obj.Creator, o.m.cfg.Self) && obj.Creator != "" {
		o.m.log.Debug().Str("peer", peer).Str("sha1d", obj.SHA1D).Msg("Declining request for an MSN object we do not serve")
		return Answer{}
	}
	return Answer{Accept: true, Data: data, DataPrep: true, DataFlags: FlagMSNObjData}
}

// Fetch asks peer for the object and returns its data once it arrived and
// matches the object's SHA1D. maxSize bounds what is accepted (0: the
// manager's limit).
func (o *Objects) Fetch(ctx context.Context, peer string, obj *MSNObject, maxSize int64) ([]byte, error) {
	if maxSize <= 0 || maxSize > o.m.cfg.MaxDataSize {
		maxSize = o.m.cfg.MaxDataSize
	}
	if obj.Size > maxSize {
		return nil, fmt.Errorf("fetch MSN object from %s: %w: it has %d bytes, limit %d", peer, ErrTooLarge, obj.Size, maxSize)
	}
	if obj.Size > 0 {
		maxSize = obj.Size // the peer may not send more than announced
	}
	data, err := o.m.Request(ctx, peer, Request{
		EUFGUID:  EUFGUIDMSNObject,
		AppID:    AppIDMSNObject,
		Context:  append([]byte(obj.wire()), 0),
		MaxSize:  maxSize,
		DataPrep: true,
	})
	if err != nil {
		return nil, fmt.Errorf("fetch MSN object from %s: %w", peer, err)
	}
	if err := obj.Verify(data); err != nil {
		return nil, fmt.Errorf("fetch MSN object from %s: %w", peer, err)
	}
	return data, nil
}
