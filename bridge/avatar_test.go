package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2/networkid"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/database"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// fakeAvatarWorld stands for the MSN contacts, the media repo, the cache
// table and the ghosts around an avatarFetcher.
type fakeAvatarWorld struct {
	mu       sync.Mutex
	pictures map[string][]byte // contact -> picture data
	fail     map[string]int    // contact -> fetches left to fail
	fetches  atomic.Int32
	running  atomic.Int32
	maxRun   atomic.Int32
	cache    map[string]*database.Avatar
	ghosts   map[string]string // contact -> avatar id set
	set      chan string
	block    chan struct{} // fetches wait on it when not nil
}

func newFakeAvatarWorld() *fakeAvatarWorld {
	return &fakeAvatarWorld{pictures: map[string][]byte{}, fail: map[string]int{}, cache: map[string]*database.Avatar{},
		ghosts: map[string]string{}, set: make(chan string, 100)}
}

func (w *fakeAvatarWorld) fetcher(concurrency int) *avatarFetcher {
	f := newAvatarFetcher(context.Background(), concurrency, zerolog.Nop())
	f.retryIn = func(int) time.Duration { return 50 * time.Millisecond }
	f.fetch = func(ctx context.Context, _ *MSNClient, email, obj string) ([]byte, error) {
		w.fetches.Add(1)
		n := w.running.Add(1)
		defer w.running.Add(-1)
		for {
			m := w.maxRun.Load()
			if n <= m || w.maxRun.CompareAndSwap(m, n) {
				break
			}
		}
		if w.block != nil {
			<-w.block
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.fail[email] > 0 {
			w.fail[email]--
			return nil, errors.New("timed out")
		}
		return w.pictures[email], nil
	}
	f.upload = func(_ context.Context, data []byte, mime string) (id.ContentURIString, error) {
		return id.ContentURIString("mxc://test/" + p2p.SHA1D(data)), nil
	}
	f.lookup = func(_ context.Context, sha1d string) (*database.Avatar, error) {
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.cache[sha1d], nil
	}
	f.store = func(_ context.Context, a *database.Avatar) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.cache[a.SHA1D] = a
		return nil
	}
	f.current = func(_ context.Context, email string) (networkid.AvatarID, bool) {
		w.mu.Lock()
		defer w.mu.Unlock()
		cur, ok := w.ghosts[email]
		return networkid.AvatarID(cur), ok
	}
	f.set = func(_ context.Context, email, sha1d string, mxc id.ContentURIString) error {
		w.mu.Lock()
		w.ghosts[email] = sha1d
		w.mu.Unlock()
		if string(mxc) != "mxc://test/"+sha1d {
			return errors.New("wrong mxc")
		}
		w.set <- email
		return nil
	}
	return f
}

// testPNG returns a small PNG of one colour.
func testPNG(t testing.TB, c uint8) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 4, 4))
	for i := range img.Pix {
		img.Pix[i] = c
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (w *fakeAvatarWorld) waitSet(t *testing.T, email string) {
	t.Helper()
	select {
	case got := <-w.set:
		if got != email {
			t.Fatalf("avatar of %s set, want %s", got, email)
		}
	case <-time.After(testTimeout):
		t.Fatalf("avatar of %s never set", email)
	}
}

// waitSets waits for the avatars of emails to be set, in any order.
func (w *fakeAvatarWorld) waitSets(t *testing.T, emails ...string) {
	t.Helper()
	want := map[string]bool{}
	for _, e := range emails {
		want[e] = true
	}
	for len(want) > 0 {
		select {
		case got := <-w.set:
			delete(want, got)
		case <-time.After(testTimeout):
			t.Fatalf("avatars of %v never set", want)
		}
	}
}

// TestAvatarOneFetchPerPicture: two logins seeing one contact and another
// contact with the same picture cause one fetch; every ghost gets it.
func TestAvatarOneFetchPerPicture(t *testing.T) {
	w := newFakeAvatarWorld()
	pic := testPNG(t, 200)
	w.pictures["a@x.com"], w.pictures["b@x.com"] = pic, pic
	w.block = make(chan struct{})
	f := w.fetcher(3)
	obj := p2p.NewMSNObject("a@x.com", 3, pic, "", "").String()
	objB := p2p.NewMSNObject("b@x.com", 3, pic, "", "").String()
	login1, login2 := &MSNClient{}, &MSNClient{}
	f.want(login1, "a@x.com", obj)
	f.want(login2, "a@x.com", obj)
	f.want(login2, "b@x.com", objB)
	time.Sleep(50 * time.Millisecond) // let the fetch start before it is released
	close(w.block)
	w.waitSets(t, "a@x.com", "b@x.com")
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches for one picture", n)
	}
	// A restart: a new fetcher with the same cache and ghosts fetches nothing.
	f2 := w.fetcher(3)
	f2.want(login1, "a@x.com", obj)
	w.mu.Lock()
	delete(w.ghosts, "b@x.com") // a ghost without it yet is set from the cache
	w.mu.Unlock()
	f2.want(login1, "b@x.com", objB)
	w.waitSet(t, "b@x.com")
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches after a restart", n)
	}
}

func TestAvatarRetriesAfterFailure(t *testing.T) {
	w := newFakeAvatarWorld()
	pic := testPNG(t, 10)
	w.pictures["a@x.com"] = pic
	w.fail["a@x.com"] = 2
	f := w.fetcher(1)
	f.want(&MSNClient{}, "a@x.com", p2p.NewMSNObject("a@x.com", 3, pic, "", "").String())
	w.waitSet(t, "a@x.com")
	if n := w.fetches.Load(); n != 3 {
		t.Fatalf("%d fetches, want 2 failures and 1 success", n)
	}
}

func TestAvatarBoundedConcurrency(t *testing.T) {
	w := newFakeAvatarWorld()
	w.block = make(chan struct{})
	f := w.fetcher(2)
	emails := []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com", "e@x.com"}
	for i, e := range emails {
		pic := testPNG(t, uint8(i*40))
		w.pictures[e] = pic
		f.want(&MSNClient{}, e, p2p.NewMSNObject(e, 3, pic, "", "").String())
	}
	time.Sleep(100 * time.Millisecond)
	close(w.block)
	for range emails {
		select {
		case <-w.set:
		case <-time.After(testTimeout):
			t.Fatal("not every avatar was set")
		}
	}
	if m := w.maxRun.Load(); m > 2 {
		t.Fatalf("%d fetches at once, limit 2", m)
	}
}

// TestAvatarRejectsNonImages: data that is not an image is not uploaded.
func TestAvatarRejectsNonImages(t *testing.T) {
	w := newFakeAvatarWorld()
	data := []byte("<html>not a picture</html>")
	w.pictures["a@x.com"] = data
	f := w.fetcher(1)
	f.retryIn = func(int) time.Duration { return time.Hour }
	f.want(&MSNClient{}, "a@x.com", p2p.NewMSNObject("a@x.com", 3, data, "", "").String())
	// Wait until the fetch ended as a failure (a retry is scheduled).
	deadline := time.Now().Add(testTimeout)
	for {
		f.mu.Lock()
		failed := f.failures[p2p.SHA1D(data)] == 1 && !f.inflight[p2p.SHA1D(data)]
		f.mu.Unlock()
		if failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the fetch of a non-image did not fail")
		}
		time.Sleep(10 * time.Millisecond)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.cache) != 0 || len(w.ghosts) != 0 {
		t.Fatalf("non-image stored: %v %v", w.cache, w.ghosts)
	}
}

func TestDisplayPicturePNG(t *testing.T) {
	// A wide red JPEG: scaled to 96 wide, centred with transparent margins.
	src := image.NewRGBA(image.Rect(0, 0, 300, 150))
	for y := 0; y < 150; y++ {
		for x := 0; x < 300; x++ {
			src.Set(x, y, color.RGBA{255, 0, 0, 255})
		}
	}
	var in bytes.Buffer
	if err := jpeg.Encode(&in, src, nil); err != nil {
		t.Fatal(err)
	}
	out, err := displayPicturePNG(in.Bytes(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 96 {
		t.Fatalf("size %v", b)
	}
	if _, _, _, a := img.At(48, 5).RGBA(); a != 0 {
		t.Error("top margin is not transparent: aspect not kept")
	}
	if r, g, _, a := img.At(48, 48).RGBA(); a == 0 || r < 0xe000 || g > 0x2000 {
		t.Error("centre is not the picture")
	}
	if _, err := displayPicturePNG([]byte("not an image"), 1<<20); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := displayPicturePNG(in.Bytes(), 100); err == nil {
		t.Error("picture over the size limit accepted")
	}
	// A 96x96 PNG is kept byte for byte.
	if again, err := displayPicturePNG(out, 1<<20); err != nil || !bytes.Equal(again, out) {
		t.Errorf("a 96x96 PNG was re-encoded (%v)", err)
	}
	// A decompression bomb: a PNG header claiming 100000x100000 pixels.
	bomb := testPNG(t, 1)
	bomb[16], bomb[17], bomb[18], bomb[19] = 0, 1, 0x86, 0xa0
	bomb[20], bomb[21], bomb[22], bomb[23] = 0, 1, 0x86, 0xa0
	if _, err := displayPicturePNG(bomb, 1<<20); err == nil {
		t.Error("huge image accepted")
	}
}

// TestAvatarTooLargeNotRetried: a picture over the limit is not fetched
// again and again.
func TestAvatarTooLargeNotRetried(t *testing.T) {
	w := newFakeAvatarWorld()
	f := w.fetcher(1)
	inner := f.fetch
	f.fetch = func(ctx context.Context, via *MSNClient, email, obj string) ([]byte, error) {
		_, _ = inner(ctx, via, email, obj)
		return nil, fmt.Errorf("fetch: %w", p2p.ErrTooLarge)
	}
	pic := testPNG(t, 5)
	f.want(&MSNClient{}, "a@x.com", p2p.NewMSNObject("a@x.com", 3, pic, "", "").String())
	time.Sleep(500 * time.Millisecond) // ten retry delays of the test fetcher
	if n := w.fetches.Load(); n != 1 {
		t.Fatalf("%d fetches of a picture over the limit, want 1", n)
	}
}

// One login disconnecting (logout, the reconnect command) must not stop
// the other logins, or the same one signing in again, from fetching
// pictures.
func TestAvatarFetcherAfterLoginDisconnect(t *testing.T) {
	c := &Connector{DB: testDB(t)}
	c.waitAvatars(time.Millisecond) // a login disconnects before any picture was seen
	f := c.avatarFetcher()
	if f == nil {
		t.Fatal("no picture fetcher after a login disconnected: pictures would never be fetched again")
	}
	c.waitAvatars(time.Millisecond)
	if again := c.avatarFetcher(); again != f {
		t.Fatal("a second fetcher was created: pictures would be fetched twice")
	}
}
