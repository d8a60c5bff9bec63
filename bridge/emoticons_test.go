package bridge

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

func TestMsnToMatrixEmoticons(t *testing.T) {
	icons := map[string]id.ContentURIString{
		":cat:":  "mxc://x/cat",
		":cat":   "mxc://x/short",
		`<b>&"'`: "mxc://x/html",
		"(y)":    "mxc://x/thumb",
	}
	img := func(shortcut, mxc string) string {
		esc := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(shortcut)
		return `<img data-mx-emoticon src="` + mxc + `" alt="` + esc + `" title="` + esc + `" height="19">`
	}
	for _, tc := range []struct {
		name       string
		msg        msnclient.TextMessage
		emoji      bool
		body, html string
	}{
		{"inline", msnclient.TextMessage{Text: "look :cat: here"}, false,
			"look :cat: here", "look " + img(":cat:", "mxc://x/cat") + " here"},
		{"longest first", msnclient.TextMessage{Text: ":cat:cat :cat"}, false,
			":cat:cat :cat", img(":cat:", "mxc://x/cat") + "cat " + img(":cat", "mxc://x/short")},
		{"HTML escaped", msnclient.TextMessage{Text: `<script>x</script> <b>&"'!`}, false,
			`<script>x</script> <b>&"'!`, "&lt;script&gt;x&lt;/script&gt; " + img(`<b>&"'`, "mxc://x/html") + "!"},
		{"no image stays text", msnclient.TextMessage{Text: ":dog: :cat:"}, false,
			":dog: :cat:", ":dog: " + img(":cat:", "mxc://x/cat")},
		{"formatting", msnclient.TextMessage{Text: "a\r\n:cat:", Format: msnclient.Format{Bold: true, Color: 0xff}}, false,
			"a\n:cat:", `<b><font color="#0000ff" data-mx-color="#0000ff">a<br/>` + img(":cat:", "mxc://x/cat") + `</font></b>`},
		{"emoji around custom", msnclient.TextMessage{Text: "hi :) (y) :cat:"}, true,
			"hi 🙂 (y) :cat:", "hi 🙂 " + img("(y)", "mxc://x/thumb") + " " + img(":cat:", "mxc://x/cat")},
		{"unicode", msnclient.TextMessage{Text: "é:cat:ü"}, false, "é:cat:ü", "é" + img(":cat:", "mxc://x/cat") + "ü"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := msnToMatrixEmoticons(tc.msg, tc.emoji, icons)
			if got.MsgType != event.MsgText || got.Body != tc.body || got.Format != event.FormatHTML || got.FormattedBody != tc.html {
				t.Fatalf("got body %q html\n%s\nwant body %q html\n%s", got.Body, got.FormattedBody, tc.body, tc.html)
			}
		})
	}
}

// fakeEmoticonWorld stands for the contacts' clients, the media repo and
// the cache table around an emoticonCache.
type fakeEmoticonWorld struct {
	images  map[string][]byte // SHA1D -> image the contact serves
	hang    bool              // fetches never answer (until their context ends)
	hangOn  string            // the fetch of this shortcut never answers
	fail    bool              // fetches fail at once
	fetches atomic.Int32
	uploads atomic.Int32
	mu      sync.Mutex
	media   map[id.ContentURIString][]byte
}

// install gives m's connector an emoticon cache on the fake world, with
// the connector's database as the cache table.
func (w *fakeEmoticonWorld) install(t *testing.T, m *MSNClient) *emoticonCache {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel) // ends fetches still hanging
	ec := newEmoticonCache(ctx, 3, zerolog.Nop())
	ec.fetch = func(ctx context.Context, _ *MSNClient, _ string, e msnclient.Emoticon) ([]byte, error) {
		w.fetches.Add(1)
		if w.hang || e.Shortcut == w.hangOn {
			<-ctx.Done()
			return nil, ctx.Err()
		}
		if w.fail {
			return nil, p2p.ErrDeclined
		}
		return w.images[e.SHA1D], nil
	}
	ec.upload = func(_ context.Context, data []byte, mime string) (id.ContentURIString, error) {
		n := w.uploads.Add(1)
		uri := id.ContentURIString("mxc://x/" + string(rune('a'+n)))
		w.mu.Lock()
		w.media[uri] = data
		w.mu.Unlock()
		return uri, nil
	}
	ec.lookup = m.connector.DB.Avatar.Get
	ec.store = m.connector.DB.Avatar.Put
	m.connector.emoticonMu.Lock()
	m.connector.emoticons = ec
	m.connector.emoticonMu.Unlock()
	return ec
}

func emoticonOf(t *testing.T, w *fakeEmoticonWorld, shortcut string, data []byte) msnclient.Emoticon {
	t.Helper()
	obj := p2p.NewMSNObject("alice@x.com", p2p.ObjectEmoticon, data, "TFR1.dat", "")
	w.images[obj.SHA1D] = data
	return msnclient.Emoticon{Shortcut: shortcut, MSNObject: obj.String(), SHA1D: obj.SHA1D, Size: obj.Size}
}

// deliver has alice send text with emoticons through the login's event
// handler and returns the Matrix content of the message, and how long the
// conversion took (the time the message was held).
func deliver(t *testing.T, m *MSNClient, queued chan bridgev2.RemoteEvent, text string, emoticons ...msnclient.Emoticon) (*event.MessageEventContent, time.Duration) {
	t.Helper()
	start := time.Now()
	m.handleEvent(context.Background(), nil, &msnclient.MessageReceived{
		ConversationEvent: msnclient.ConversationEvent{Participants: []string{"alice@x.com"}},
		From:              "alice@x.com",
		Message:           msnclient.TextMessage{Text: text},
		Emoticons:         emoticons,
	})
	if held := time.Since(start); held > time.Second {
		t.Errorf("the login's event handler was held %v by a message with emoticons", held)
	}
	var evt bridgev2.RemoteEvent
	select {
	case evt = <-queued:
	case <-time.After(testTimeout):
		t.Fatal("message not queued")
	}
	msg, ok := evt.(*simplevent.Message[*msnclient.MessageReceived])
	if !ok {
		t.Fatalf("queued %T", evt)
	}
	start = time.Now()
	conv, err := msg.ConvertMessage(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conv.Parts[0].Content, time.Since(start)
}

func emoticonTestClient(t *testing.T, wait float64) (*MSNClient, chan bridgev2.RemoteEvent, *fakeEmoticonWorld) {
	m := testLoginClient(t)
	m.connector.Config.CustomEmoticons.MaxWaitSeconds = wait
	queued := make(chan bridgev2.RemoteEvent, 10)
	m.queueRemote = func(evt bridgev2.RemoteEvent) { queued <- evt }
	w := &fakeEmoticonWorld{images: map[string][]byte{}, media: map[id.ContentURIString][]byte{}}
	w.install(t, m)
	return m, queued, w
}

// The images are fetched, uploaded once, and the second message using the
// same emoticon (even through a new cache: a restart) reuses the upload.
func TestEmoticonCacheReuse(t *testing.T) {
	m, queued, w := emoticonTestClient(t, 30)
	cat := emoticonOf(t, w, ":cat:", testPNG(t, 10))
	content, _ := deliver(t, m, queued, "a :cat:", cat)
	if !strings.Contains(content.FormattedBody, `src="mxc://x/b" alt=":cat:"`) || content.Body != "a :cat:" {
		t.Fatalf("first message: %q / %s", content.Body, content.FormattedBody)
	}
	w.mu.Lock()
	uploaded := w.media["mxc://x/b"]
	w.mu.Unlock()
	if !bytes.Equal(uploaded, w.images[cat.SHA1D]) {
		t.Fatal("the uploaded image is not the one served")
	}
	content, _ = deliver(t, m, queued, "b :cat: :cat:", cat)
	if strings.Count(content.FormattedBody, `src="mxc://x/b"`) != 2 {
		t.Fatalf("second message: %s", content.FormattedBody)
	}
	w.install(t, m) // a new cache on the same table: as after a restart
	content, _ = deliver(t, m, queued, "c :cat:", cat)
	if !strings.Contains(content.FormattedBody, `src="mxc://x/b"`) {
		t.Fatalf("after restart: %s", content.FormattedBody)
	}
	if f, u := w.fetches.Load(), w.uploads.Load(); f != 1 || u != 1 {
		t.Fatalf("%d fetches and %d uploads for one emoticon used three times, want 1 and 1", f, u)
	}
}

// A contact who never answers holds the message for the configured bound
// only; it then goes as text, without blocking the login's events.
func TestEmoticonBoundedWait(t *testing.T) {
	const wait = 0.5
	m, queued, w := emoticonTestClient(t, wait)
	w.hang = true
	cat := emoticonOf(t, w, ":cat:", testPNG(t, 20))
	content, held := deliver(t, m, queued, "hi :cat:", cat)
	if content.Body != "hi :cat:" || content.Format != "" || content.FormattedBody != "" {
		t.Fatalf("got %q / %q, want the plain text", content.Body, content.FormattedBody)
	}
	if held < time.Duration(wait*float64(time.Second))-50*time.Millisecond || held > 10*time.Second {
		t.Fatalf("held %v, want about %v", held, wait)
	}
}

// Of two emoticons, one arrives and one does not: the message goes after
// the bound with the one that did.
func TestEmoticonPartial(t *testing.T) {
	m, queued, w := emoticonTestClient(t, 0.5)
	w.hangOn = ":cat:"
	cat := emoticonOf(t, w, ":cat:", testPNG(t, 20))
	dog := emoticonOf(t, w, ":dog:", testPNG(t, 30))
	content, _ := deliver(t, m, queued, ":cat: and :dog:", cat, dog)
	if content.Body != ":cat: and :dog:" || !strings.HasPrefix(content.FormattedBody, ":cat: and <img") || !strings.Contains(content.FormattedBody, `alt=":dog:"`) {
		t.Fatalf("partial: %q / %s", content.Body, content.FormattedBody)
	}
}

// A failed fetch lets the message go at once as text, and the image is
// not asked for again for a while: later messages are not held for it.
func TestEmoticonFetchFailure(t *testing.T) {
	m, queued, w := emoticonTestClient(t, 30)
	w.fail = true
	cat := emoticonOf(t, w, ":cat:", testPNG(t, 40))
	for i := range 2 {
		content, held := deliver(t, m, queued, "hi :cat:", cat)
		if content.Body != "hi :cat:" || content.FormattedBody != "" {
			t.Fatalf("message %d: %q / %q", i, content.Body, content.FormattedBody)
		}
		if held > 10*time.Second {
			t.Fatalf("message %d held %v after the fetch failed", i, held)
		}
	}
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1 (the failure is remembered)", n)
	}
	// Not an image: refused, not uploaded.
	w.fail = false
	bad := emoticonOf(t, w, ":bad:", []byte("<html>not an image</html>"))
	content, _ := deliver(t, m, queued, ":bad:", bad)
	if content.FormattedBody != "" || w.uploads.Load() != 0 {
		t.Fatalf("non-image emoticon: %q, %d uploads", content.FormattedBody, w.uploads.Load())
	}
}

// Our own messages (from another endpoint) and messages without custom
// emoticons are converted as before, without waiting.
func TestEmoticonNotUsed(t *testing.T) {
	m, queued, w := emoticonTestClient(t, 30)
	w.hang = true
	content, _ := deliver(t, m, queued, "plain :)")
	if content.Body != "plain :)" || content.FormattedBody != "" || w.fetches.Load() != 0 {
		t.Fatalf("plain message: %+v, %d fetches", content, w.fetches.Load())
	}
	if b := m.startEmoticons(&msnclient.MessageReceived{From: "me@x.com", FromSelf: true, Emoticons: []msnclient.Emoticon{emoticonOf(t, w, ":x:", []byte("x"))}}); b != nil {
		t.Fatal("our own message waits for emoticons")
	}
}

// Too many images at once: the rest are not fetched, the message is not
// held for them.
func TestEmoticonJobsBounded(t *testing.T) {
	ec := newEmoticonCache(context.Background(), 1, zerolog.Nop())
	block := make(chan struct{})
	defer close(block)
	ec.lookup = func(context.Context, string) (*database.Avatar, error) { return nil, nil }
	ec.fetch = func(ctx context.Context, _ *MSNClient, _ string, _ msnclient.Emoticon) ([]byte, error) {
		<-block
		return nil, errors.New("stopped")
	}
	for i := range maxEmoticonJobs {
		ec.get(nil, "a@x.com", msnclient.Emoticon{Shortcut: "x", SHA1D: string(rune(i + 1000))})
	}
	j := ec.get(nil, "a@x.com", msnclient.Emoticon{Shortcut: "x", SHA1D: "one more"})
	select {
	case <-j.done:
		if !errors.Is(j.err, ErrTooManyEmoticons) {
			t.Fatalf("error %v", j.err)
		}
	default:
		t.Fatal("job over the bound started")
	}
}

func TestEmoticonsConfig(t *testing.T) {
	for _, tc := range []struct {
		secs float64
		want time.Duration
		ok   bool
	}{{0, defaultEmoticonWait, true}, {2.5, 2500 * time.Millisecond, true}, {60, time.Minute, true}, {-1, 0, false}, {61, 0, false}} {
		cfg := EmoticonsConfig{MaxWaitSeconds: tc.secs}
		if err := cfg.validate(); (err == nil) != tc.ok {
			t.Errorf("%v: validate %v", tc.secs, err)
		}
		if tc.ok && cfg.maxWait() != tc.want {
			t.Errorf("%v: wait %v, want %v", tc.secs, cfg.maxWait(), tc.want)
		}
	}
}

// BenchmarkMsnToMatrixEmoticons converts a 1,148-character message using
// four custom emoticons, seven times each.
func BenchmarkMsnToMatrixEmoticons(b *testing.B) {
	icons := map[string]id.ContentURIString{}
	var text strings.Builder
	for i := range 4 {
		icons["(e"+string(rune('0'+i))+")"] = "mxc://x/y"
	}
	for text.Len() < 1000 {
		for s := range icons {
			text.WriteString("some words around " + s + " and <more> & text ")
		}
	}
	msg := msnclient.TextMessage{Text: text.String()}
	b.SetBytes(int64(len(msg.Text)))
	b.ReportAllocs()
	for b.Loop() {
		msnToMatrixEmoticons(msg, false, icons)
	}
}
