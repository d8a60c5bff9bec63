package bridge

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// Custom emoticons: a contact's message that uses their own emoticons is
// shown with each one as an inline image. The images are fetched over P2P
// from the sender while the message waits (a few seconds at most), and
// cached like display pictures: by the SHA1D of their MSNObject in
// msn_avatar (the same table: it maps an MSN object's data to its upload),
// so that an emoticon is uploaded to Matrix once and its mxc reused by
// every later message, login and restart.

// Defaults and limits of custom emoticons.
const (
	defaultEmoticonWait = 5 * time.Second
	maxEmoticonWait     = 60 * time.Second
	// emoticonFetchTimeout bounds one fetch, which goes on after the
	// message stopped waiting so that the next message has the image.
	emoticonFetchTimeout = 30 * time.Second
	// emoticonRetryAfter is how long a failed image is not asked for
	// again: messages using it go as text at once meanwhile.
	emoticonRetryAfter = time.Minute
	// maxEmoticonJobs bounds the images being fetched, over all logins.
	maxEmoticonJobs = 256
	// maxEmoticonFailures bounds the failures remembered; past it they
	// are forgotten (and may be asked for again).
	maxEmoticonFailures = 4096
	// emoticonHeight is the height MSN clients show emoticons at.
	emoticonHeight = 19
)

// ErrTooManyEmoticons is the error of an image not fetched because too
// many are being fetched already.
var ErrTooManyEmoticons = errors.New("too many custom emoticons being fetched")

// EmoticonsConfig configures custom emoticons.
type EmoticonsConfig struct {
	// MaxWaitSeconds is how long an incoming message waits for its
	// emoticons' images (default 5, at most 60).
	MaxWaitSeconds float64 `yaml:"max_wait_seconds"`
}

// maxWait returns the configured wait, or the default.
func (e EmoticonsConfig) maxWait() time.Duration {
	if e.MaxWaitSeconds <= 0 {
		return defaultEmoticonWait
	}
	return min(time.Duration(e.MaxWaitSeconds*float64(time.Second)), maxEmoticonWait)
}

// validate checks the emoticon settings.
func (e EmoticonsConfig) validate() error {
	if e.MaxWaitSeconds < 0 || e.MaxWaitSeconds > maxEmoticonWait.Seconds() {
		return fmt.Errorf("network.custom_emoticons.max_wait_seconds: %v is not between 0 and %v", e.MaxWaitSeconds, maxEmoticonWait.Seconds())
	}
	return nil
}

// emoticonJob is the image of one emoticon being got: from the cache or
// from a contact. done is closed once mxc or err is set.
type emoticonJob struct {
	done chan struct{}
	mxc  id.ContentURIString
	err  error
}

func failedJob(err error) *emoticonJob {
	j := &emoticonJob{done: make(chan struct{}), err: err}
	close(j.done)
	return j
}

// emoticonCache gets custom emoticon images for all logins of the bridge.
type emoticonCache struct {
	log zerolog.Logger
	ctx context.Context
	sem chan struct{} // bounds P2P fetches in progress
	now func() time.Time

	// Dependencies (the bridge's by default; tests replace them).
	fetch  func(ctx context.Context, via *MSNClient, from string, e msnclient.Emoticon) ([]byte, error)
	upload func(ctx context.Context, data []byte, mime string) (id.ContentURIString, error)
	lookup func(ctx context.Context, sha1d string) (*database.Avatar, error)
	store  func(ctx context.Context, a *database.Avatar) error

	mu     sync.Mutex
	jobs   map[string]*emoticonJob // SHA1D -> in progress
	failed map[string]time.Time    // SHA1D -> not asked for again before
}

func newEmoticonCache(ctx context.Context, concurrency int, log zerolog.Logger) *emoticonCache {
	if concurrency <= 0 {
		concurrency = defaultMaxConcurrentFetches
	}
	return &emoticonCache{
		log:    log,
		ctx:    ctx,
		sem:    make(chan struct{}, concurrency),
		now:    time.Now,
		jobs:   make(map[string]*emoticonJob),
		failed: make(map[string]time.Time),
	}
}

// emoticonCache returns the connector's cache, creating it on first use;
// nil outside a running bridge (no database or media repository).
func (c *Connector) emoticonCache() *emoticonCache {
	c.emoticonMu.Lock()
	defer c.emoticonMu.Unlock()
	if c.emoticons != nil {
		return c.emoticons
	}
	if c.Bridge == nil || c.DB == nil {
		return nil
	}
	ec := newEmoticonCache(c.backgroundCtx(), c.Config.Pictures.maxConcurrent(), c.Bridge.Log.With().Str("component", "emoticons").Logger())
	ec.fetch = func(ctx context.Context, via *MSNClient, from string, e msnclient.Emoticon) ([]byte, error) {
		cl, err := via.client()
		if err != nil {
			return nil, err
		}
		return cl.FetchEmoticon(ctx, from, e)
	}
	ec.upload = func(ctx context.Context, data []byte, mime string) (id.ContentURIString, error) {
		uri, _, err := c.Bridge.Bot.UploadMedia(ctx, "", data, "emoticon"+extensionOf(mime), mime)
		return uri, err
	}
	ec.lookup = c.DB.Avatar.Get
	ec.store = c.DB.Avatar.Put
	c.emoticons = ec
	return ec
}

// get returns the job getting the image of e, which from defined in a
// message to the login via: the cached upload, a fetch in progress, or a
// new fetch. An image that failed recently fails at once.
func (ec *emoticonCache) get(via *MSNClient, from string, e msnclient.Emoticon) *emoticonJob {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	if j := ec.jobs[e.SHA1D]; j != nil {
		return j
	}
	if until, ok := ec.failed[e.SHA1D]; ok {
		if ec.now().Before(until) {
			return failedJob(fmt.Errorf("emoticon %q failed recently", e.Shortcut))
		}
		delete(ec.failed, e.SHA1D)
	}
	if len(ec.jobs) >= maxEmoticonJobs {
		return failedJob(ErrTooManyEmoticons)
	}
	j := &emoticonJob{done: make(chan struct{})}
	ec.jobs[e.SHA1D] = j
	go ec.run(j, via, from, e)
	return j
}

func (ec *emoticonCache) run(j *emoticonJob, via *MSNClient, from string, e msnclient.Emoticon) {
	log := ec.log.With().Str("contact", from).Str("sha1d", e.SHA1D).Str("shortcut", e.Shortcut).Logger()
	ctx, cancel := context.WithTimeout(log.WithContext(ec.ctx), emoticonFetchTimeout)
	defer cancel()
	j.mxc, j.err = ec.resolve(ctx, via, from, e)
	ec.mu.Lock()
	delete(ec.jobs, e.SHA1D)
	if j.err != nil {
		for sha1d, until := range ec.failed {
			if ec.now().After(until) {
				delete(ec.failed, sha1d)
			}
		}
		if len(ec.failed) >= maxEmoticonFailures {
			clear(ec.failed)
		}
		ec.failed[e.SHA1D] = ec.now().Add(emoticonRetryAfter)
	}
	ec.mu.Unlock()
	close(j.done)
	if j.err != nil {
		log.Warn().Err(j.err).Msg("Could not get a custom emoticon; it shows as text")
	}
}

// resolve returns the mxc of an emoticon's image: cached, or fetched from
// the sender, checked, uploaded and remembered.
func (ec *emoticonCache) resolve(ctx context.Context, via *MSNClient, from string, e msnclient.Emoticon) (id.ContentURIString, error) {
	cached, err := ec.lookup(ctx, e.SHA1D)
	if err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to read the emoticon cache")
	}
	if cached != nil && cached.MXC != "" {
		return id.ContentURIString(cached.MXC), nil
	}
	select {
	case ec.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-ec.sem }()
	start := time.Now()
	data, err := ec.fetch(ctx, via, from, e)
	if err != nil {
		return "", fmt.Errorf("fetch emoticon: %w", err)
	}
	mime := http.DetectContentType(data)
	if !strings.HasPrefix(mime, "image/") {
		return "", fmt.Errorf("emoticon %q is %s, not an image", e.Shortcut, mime)
	}
	mxc, err := ec.upload(ctx, data, mime)
	if err != nil {
		return "", fmt.Errorf("upload emoticon: %w", err)
	}
	if err := ec.store(ctx, &database.Avatar{SHA1D: e.SHA1D, MXC: string(mxc), MimeType: mime, Size: int64(len(data))}); err != nil {
		zerolog.Ctx(ctx).Err(err).Msg("Failed to remember the uploaded emoticon")
	}
	zerolog.Ctx(ctx).Debug().Int("bytes", len(data)).Dur("took", time.Since(start)).Msg("Fetched custom emoticon")
	return mxc, nil
}

// emoticonBatch is the images of one message's emoticons, awaited until
// a deadline.
type emoticonBatch struct {
	deadline time.Time
	jobs     map[string]*emoticonJob // shortcut -> image
}

// startEmoticons starts getting the images of a message's custom
// emoticons; nil when there are none to get (none used, our own message,
// no cache outside a bridge). It never blocks.
func (m *MSNClient) startEmoticons(evt *msnclient.MessageReceived) *emoticonBatch {
	if len(evt.Emoticons) == 0 || evt.FromSelf {
		return nil
	}
	ec := m.connector.emoticonCache()
	if ec == nil {
		return nil
	}
	b := &emoticonBatch{deadline: time.Now().Add(m.connector.Config.CustomEmoticons.maxWait()), jobs: make(map[string]*emoticonJob)}
	for _, e := range evt.Emoticons {
		b.jobs[e.Shortcut] = ec.get(m, normalizeEmail(evt.From), e)
	}
	return b
}

// wait waits for the images until the batch's deadline or ctx ends and
// returns those that arrived, by shortcut.
func (b *emoticonBatch) wait(ctx context.Context) map[string]id.ContentURIString {
	timer := time.NewTimer(time.Until(b.deadline))
	defer timer.Stop()
	out := make(map[string]id.ContentURIString, len(b.jobs))
	waiting := true
	for shortcut, j := range b.jobs {
		if waiting {
			select {
			case <-j.done:
			case <-timer.C:
				waiting = false
			case <-ctx.Done():
				waiting = false
			}
		}
		select {
		case <-j.done:
			if j.err == nil {
				out[shortcut] = j.mxc
			}
		default:
		}
	}
	return out
}

// emoticonConverter returns the converter of a message with custom
// emoticons: it waits (in the portal's event loop, so that the
// conversation's later events stay behind it and other conversations go
// on) for the images until the batch's deadline, then shows those that
// arrived inline.
func (m *MSNClient) emoticonConverter(b *emoticonBatch) func(context.Context, *bridgev2.Portal, bridgev2.MatrixAPI, *msnclient.MessageReceived) (*bridgev2.ConvertedMessage, error) {
	return func(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, evt *msnclient.MessageReceived) (*bridgev2.ConvertedMessage, error) {
		icons := b.wait(ctx)
		conv, err := m.convertMessage(ctx, portal, intent, evt)
		if err != nil || len(icons) == 0 {
			return conv, err
		}
		if missing := len(b.jobs) - len(icons); missing > 0 {
			zerolog.Ctx(ctx).Debug().Int("missing", missing).Msg("Custom emoticons shown as text")
		}
		conv.Parts[0].Content = msnToMatrixEmoticons(evt.Message, m.connector.Config.EmoticonsToEmoji, icons)
		return conv, nil
	}
}

// msnToMatrixEmoticons converts a text message whose custom emoticons
// have images: the HTML shows each as an inline image (the shortcut as
// its alt text and title, 19 px high as in MSN), the plain body keeps the
// shortcuts. Shortcuts are matched where they stand, the longest first,
// as MSN clients do.
func msnToMatrixEmoticons(msg msnclient.TextMessage, emoji bool, icons map[string]id.ContentURIString) *event.MessageEventContent {
	text := cleanText(msg.Text)
	shortcuts := make([]string, 0, len(icons))
	for s := range icons {
		if s != "" {
			shortcuts = append(shortcuts, s)
		}
	}
	sort.Slice(shortcuts, func(i, j int) bool {
		if len(shortcuts[i]) != len(shortcuts[j]) {
			return len(shortcuts[i]) > len(shortcuts[j])
		}
		return shortcuts[i] < shortcuts[j]
	})
	var first [256]bool // first bytes of the shortcuts
	for _, s := range shortcuts {
		first[s[0]] = true
	}
	var body, formatted, plain strings.Builder
	flush := func() {
		s := plain.String()
		plain.Reset()
		if emoji {
			s = emoticonsToEmoji(s)
		}
		body.WriteString(s)
		formatted.WriteString(strings.ReplaceAll(html.EscapeString(s), "\n", "<br/>"))
	}
	for i := 0; i < len(text); {
		matched := ""
		if first[text[i]] {
			for _, s := range shortcuts {
				if strings.HasPrefix(text[i:], s) {
					matched = s
					break
				}
			}
		}
		if matched == "" {
			j := i + 1
			for j < len(text) && !first[text[j]] {
				j++
			}
			plain.WriteString(text[i:j])
			i = j
			continue
		}
		flush()
		body.WriteString(matched)
		alt := html.EscapeString(matched)
		fmt.Fprintf(&formatted, `<img data-mx-emoticon src="%s" alt="%s" title="%s" height="%d">`,
			html.EscapeString(string(icons[matched])), alt, alt, emoticonHeight)
		i += len(matched)
	}
	flush()
	return &event.MessageEventContent{
		MsgType:       event.MsgText,
		Body:          body.String(),
		Format:        event.FormatHTML,
		FormattedBody: wrapFormat(formatted.String(), msg.Format),
	}
}
