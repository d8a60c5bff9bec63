package bridge

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// Contacts' display pictures become their ghosts' avatars. A picture is
// identified by the SHA1D of the contact's MSNObject: it is fetched over P2P
// once (whichever login sees the contact first), checked, uploaded to Matrix
// once and remembered in msn_avatar, so that other contacts with the same
// picture, other logins and later restarts reuse the upload.

// Defaults of the pictures config.
const (
	defaultMaxPictureSize       = 1 << 20
	defaultMaxConcurrentFetches = 3
)

// Retry delays of a failed picture fetch: doubling from the first up to the
// last.
const (
	avatarRetryFirst = 30 * time.Second
	avatarRetryMax   = time.Hour
)

// wantedAvatar is the latest picture of a contact and a login that can
// fetch it.
type wantedAvatar struct {
	sha1d string
	obj   string
	via   *MSNClient
}

// avatarFetcher fetches contacts' pictures for all logins of the bridge.
type avatarFetcher struct {
	log zerolog.Logger
	sem chan struct{} // bounds fetches in progress

	// Dependencies (the bridge's by default; tests replace them).
	fetch   func(ctx context.Context, via *MSNClient, email, obj string) ([]byte, error)
	upload  func(ctx context.Context, data []byte, mime string) (id.ContentURIString, error)
	lookup  func(ctx context.Context, sha1d string) (*database.Avatar, error)
	store   func(ctx context.Context, a *database.Avatar) error
	current func(ctx context.Context, email string) (networkid.AvatarID, bool)
	set     func(ctx context.Context, email, sha1d string, mxc id.ContentURIString) error
	retryIn func(attempt int) time.Duration
	ctx     context.Context

	mu       sync.Mutex
	wanted   map[string]wantedAvatar // contact email -> latest picture
	inflight map[string]bool         // SHA1D -> fetch in progress
	failures map[string]int          // SHA1D -> failed attempts in a row
	retries  map[string]*time.Timer  // SHA1D -> scheduled retry
	updating int                     // ghost updates in progress
}

// beginUpdate and endUpdate count ghost updates in progress, so that a
// shutdown can let them finish (see wait).
func (f *avatarFetcher) beginUpdate() {
	f.mu.Lock()
	f.updating++
	f.mu.Unlock()
}

func (f *avatarFetcher) endUpdate() {
	f.mu.Lock()
	f.updating--
	f.mu.Unlock()
}

// wait waits up to d for the ghost updates in progress to finish.
func (f *avatarFetcher) wait(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		n := f.updating
		f.mu.Unlock()
		if n == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitAvatars lets avatar updates in progress finish before the bridge
// stops (they would fail half-done on a closed database).
// It is called when one login disconnects; later logins (or the same one
// reconnecting) still create and use the fetcher.
func (c *Connector) waitAvatars(d time.Duration) {
	c.avatarMu.Lock()
	f := c.avatars
	c.avatarMu.Unlock()
	if f != nil {
		f.wait(d)
	}
}

// avatarFetcher returns the connector's fetcher, creating it on first use.
func (c *Connector) avatarFetcher() *avatarFetcher {
	c.avatarMu.Lock()
	defer c.avatarMu.Unlock()
	if c.avatars == nil {
		c.avatars = newAvatarFetcher(c.backgroundCtx(), c.Config.Pictures.maxConcurrent(), c.log())
		c.avatars.fetch = func(ctx context.Context, via *MSNClient, email, obj string) ([]byte, error) {
			cl, err := via.client()
			if err != nil {
				return nil, err
			}
			return cl.FetchDisplayPicture(ctx, email, obj)
		}
		c.avatars.upload = func(ctx context.Context, data []byte, mime string) (id.ContentURIString, error) {
			uri, _, err := c.Bridge.Bot.UploadMedia(ctx, "", data, "avatar"+extensionOf(mime), mime)
			return uri, err
		}
		c.avatars.lookup = c.DB.Avatar.Get
		c.avatars.store = c.DB.Avatar.Put
		c.avatars.current = func(ctx context.Context, email string) (networkid.AvatarID, bool) {
			ghost, err := c.Bridge.GetGhostByID(ctx, makeUserID(email))
			if err != nil || ghost == nil {
				return "", false
			}
			return ghost.AvatarID, ghost.AvatarSet && ghost.AvatarMXC != ""
		}
		c.avatars.set = func(ctx context.Context, email, sha1d string, mxc id.ContentURIString) error {
			ghost, err := c.Bridge.GetGhostByID(ctx, makeUserID(email))
			if err != nil {
				return fmt.Errorf("get ghost of %s: %w", email, err)
			}
			// The hash only has to tell pictures apart; the SHA1D does.
			ghost.UpdateInfo(ctx, &bridgev2.UserInfo{Avatar: &bridgev2.Avatar{
				ID: networkid.AvatarID(sha1d), MXC: mxc, Hash: sha256.Sum256([]byte("msn-sha1d:" + sha1d)),
			}})
			return nil
		}
	}
	return c.avatars
}

func (c *Connector) log() zerolog.Logger {
	if c.Bridge != nil {
		return c.Bridge.Log.With().Str("component", "avatars").Logger()
	}
	return zerolog.Nop()
}

func newAvatarFetcher(ctx context.Context, concurrency int, log zerolog.Logger) *avatarFetcher {
	if concurrency <= 0 {
		concurrency = defaultMaxConcurrentFetches
	}
	return &avatarFetcher{
		log:      log,
		sem:      make(chan struct{}, concurrency),
		ctx:      ctx,
		retryIn:  avatarRetryDelay,
		wanted:   make(map[string]wantedAvatar),
		inflight: make(map[string]bool),
		failures: make(map[string]int),
		retries:  make(map[string]*time.Timer),
	}
}

func avatarRetryDelay(attempt int) time.Duration {
	d := avatarRetryFirst
	for i := 1; i < attempt && d < avatarRetryMax; i++ {
		d *= 2
	}
	return min(d, avatarRetryMax)
}

// updateContactAvatar is called for every presence of a contact: a new
// MSNObject (also the first one seen after login) leads to the ghost's
// avatar being updated. A presence without one (offline, no picture, MSNP8)
// keeps the avatar the ghost has. It never blocks.
func (m *MSNClient) updateContactAvatar(evt *msnclient.ContactPresence) {
	if evt.MSNObject == "" || m.connector.DB == nil {
		return
	}
	m.connector.avatarFetcher().want(m, normalizeEmail(evt.Email), evt.MSNObject)
}

// want records a contact's picture and gets it to the ghost.
func (f *avatarFetcher) want(via *MSNClient, email, obj string) {
	parsed, err := p2p.ParseMSNObject(obj)
	if err != nil {
		f.log.Warn().Err(err).Str("contact", email).Msg("Ignoring malformed MSNObject")
		return
	}
	if parsed.Type != 0 && parsed.Type != p2p.ObjectDisplayPicture {
		return
	}
	f.mu.Lock()
	old, had := f.wanted[email]
	f.wanted[email] = wantedAvatar{sha1d: parsed.SHA1D, obj: obj, via: via}
	busy := f.inflight[parsed.SHA1D] || f.retries[parsed.SHA1D] != nil
	f.mu.Unlock()
	if (had && old.sha1d == parsed.SHA1D) || busy {
		return // already set, being fetched or waiting for a retry
	}
	go f.apply(email, parsed.SHA1D)
}

// apply sets the ghost's avatar from the cache, or starts a fetch.
func (f *avatarFetcher) apply(email, sha1d string) {
	f.beginUpdate()
	defer f.endUpdate()
	ctx := f.log.With().Str("contact", email).Str("sha1d", sha1d).Logger().WithContext(f.ctx)
	if cur, ok := f.current(ctx, email); ok && string(cur) == sha1d {
		return // set before (also before a restart)
	}
	cached, err := f.lookup(ctx, sha1d)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the avatar cache")
	}
	if cached != nil {
		if err := f.set(ctx, email, sha1d, id.ContentURIString(cached.MXC)); err != nil {
			zerolog.Ctx(ctx).Err(err).Msg("Failed to set ghost avatar")
		}
		return
	}
	f.start(sha1d)
}

// start fetches the picture with this SHA1D unless a fetch is running.
func (f *avatarFetcher) start(sha1d string) {
	f.mu.Lock()
	if f.inflight[sha1d] {
		f.mu.Unlock()
		return
	}
	f.inflight[sha1d] = true
	if t := f.retries[sha1d]; t != nil {
		t.Stop()
		delete(f.retries, sha1d)
	}
	f.mu.Unlock()
	go f.run(sha1d)
}

// owners returns the contacts whose latest picture is sha1d.
func (f *avatarFetcher) owners(sha1d string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for email, w := range f.wanted {
		if w.sha1d == sha1d {
			out = append(out, email)
		}
	}
	return out
}

// source picks a contact with this picture and a connected login to fetch
// it through.
func (f *avatarFetcher) source(sha1d string) (email string, w wantedAvatar, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for e, cand := range f.wanted {
		if cand.sha1d != sha1d {
			continue
		}
		if _, err := cand.via.client(); err == nil {
			return e, cand, true
		}
		email, w, ok = e, cand, true // not connected now; the fetch fails and is retried
	}
	return email, w, ok
}

func (f *avatarFetcher) run(sha1d string) {
	log := f.log.With().Str("sha1d", sha1d).Logger()
	ctx := log.WithContext(f.ctx)
	select {
	case f.sem <- struct{}{}:
	case <-ctx.Done():
		f.finish(sha1d, ctx.Err())
		return
	}
	err := f.fetchAndStore(ctx, sha1d)
	<-f.sem
	f.finish(sha1d, err)
}

func (f *avatarFetcher) fetchAndStore(ctx context.Context, sha1d string) error {
	email, w, ok := f.source(sha1d)
	if !ok {
		return nil // nobody has this picture any more
	}
	start := time.Now()
	data, err := f.fetch(ctx, w.via, email, w.obj)
	if err != nil {
		return fmt.Errorf("fetch picture of %s: %w", email, err)
	}
	mime := http.DetectContentType(data)
	if !strings.HasPrefix(mime, "image/") {
		return fmt.Errorf("picture of %s is %s, not an image", email, mime)
	}
	mxc, err := f.upload(ctx, data, mime)
	if err != nil {
		return fmt.Errorf("upload picture of %s: %w", email, err)
	}
	if err := f.store(ctx, &database.Avatar{SHA1D: sha1d, MXC: string(mxc), MimeType: mime, Size: int64(len(data))}); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to remember the uploaded avatar")
	}
	zerolog.Ctx(ctx).Debug().Str("contact", email).Int("bytes", len(data)).Dur("took", time.Since(start)).Msg("Fetched display picture")
	f.beginUpdate()
	defer f.endUpdate()
	for _, owner := range f.owners(sha1d) {
		if err := f.set(ctx, owner, sha1d, mxc); err != nil {
			zerolog.Ctx(ctx).Err(err).Str("contact", owner).Msg("Failed to set ghost avatar")
		}
	}
	return nil
}

// finish ends a fetch; a failed one is retried later while a contact still
// has that picture.
func (f *avatarFetcher) finish(sha1d string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.inflight, sha1d)
	if err == nil {
		delete(f.failures, sha1d)
		return
	}
	if errors.Is(err, context.Canceled) || f.ctx.Err() != nil {
		return
	}
	if errors.Is(err, p2p.ErrTooLarge) {
		// Not worth trying again until the contact changes picture.
		f.log.Warn().Err(err).Str("sha1d", sha1d).Msg("Not using a contact's display picture: over pictures.max_size")
		return
	}
	f.failures[sha1d]++
	n := f.failures[sha1d]
	delay := f.retryIn(n)
	f.log.Warn().Err(err).Str("sha1d", sha1d).Int("attempt", n).Stringer("retry_in", delay).Msg("Could not get a contact's display picture")
	f.retries[sha1d] = time.AfterFunc(delay, func() {
		f.mu.Lock()
		delete(f.retries, sha1d)
		f.mu.Unlock()
		if len(f.owners(sha1d)) > 0 {
			f.start(sha1d)
		}
	})
}

// extensionOf returns a file extension for an image MIME type.
func extensionOf(mime string) string {
	switch mime {
	case "image/png":
		return ".png"
	case "image/jpeg":
		return ".jpg"
	case "image/gif":
		return ".gif"
	case "image/bmp":
		return ".bmp"
	case "image/webp":
		return ".webp"
	}
	return ""
}
