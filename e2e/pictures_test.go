package e2e

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// picturePNG returns a 96x96 PNG of one colour with a mark that differs
// with n, so that every call gives another picture.
func picturePNG(t *testing.T, n int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 96, 96))
	for y := 0; y < 96; y++ {
		for x := 0; x < 96; x++ {
			img.Set(x, y, color.NRGBA{uint8(n * 37), uint8(x * 2), uint8(y * 2), 255})
		}
	}
	img.Set(n%96, n/96%96, color.NRGBA{0, 0, 0, 255})
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// setBobPicture gives bob a new picture. Escargot does not pass on a new
// MSNObject alone, so bob changes his status with it, as a user changing
// picture and status would be seen; status alternates between calls.
func (w *world) setBobPicture(t *testing.T, pic []byte, status msnclient.Status) {
	t.Helper()
	if _, err := w.bob.SetDisplayPictureData(w.ctx, pic); err != nil {
		t.Fatal(err)
	}
	if err := w.bob.SetStatus(w.ctx, status); err != nil {
		t.Fatal(err)
	}
}

// ghostAvatar returns the avatar URL of a ghost's global profile.
func (w *world) ghostAvatar(ghost id.UserID) (id.ContentURI, error) {
	profile, err := w.user.GetProfile(w.ctx, ghost)
	if err != nil {
		return id.ContentURI{}, err
	}
	return profile.AvatarURL, nil
}

// waitGhostAvatar waits until the ghost's avatar is other than old and
// returns it.
func (w *world) waitGhostAvatar(t *testing.T, ghost id.UserID, old id.ContentURI) id.ContentURI {
	t.Helper()
	var got id.ContentURI
	err := eventually(w.ctx, msgTimeout, func() error {
		var err error
		got, err = w.ghostAvatar(ghost)
		if err != nil {
			return err
		}
		if got.IsEmpty() || got == old {
			return fmt.Errorf("ghost avatar is still %q", old)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// testContactPicture: bob's MSN display picture becomes his ghost's avatar,
// byte for byte.
func (w *world) testContactPicture(t *testing.T) {
	ghost := w.br.GhostMXID(bobEmail)
	old, err := w.ghostAvatar(ghost)
	if err != nil {
		t.Fatal(err)
	}
	pic := picturePNG(t, 1)
	w.setBobPicture(t, pic, msnclient.StatusAway)
	mxc := w.waitGhostAvatar(t, ghost, old)
	got, err := w.user.DownloadBytes(w.ctx, mxc)
	if err != nil {
		t.Fatalf("download ghost avatar: %v", err)
	}
	if !bytes.Equal(got, pic) {
		t.Fatalf("ghost avatar has %d bytes, bob's picture %d: they differ", len(got), len(pic))
	}
	w.waitRoomAvatar(t, w.bobRoom, mxc)
	if err := w.bob.SetStatus(w.ctx, msnclient.StatusOnline); err != nil {
		t.Fatal(err)
	}
	// Chat is unaffected.
	w.incoming(t, "after my new picture")
}

// testUserPicture: the Matrix user's avatar becomes their MSN picture,
// which bob fetches byte for byte.
func (w *world) testUserPicture(t *testing.T) {
	pic := picturePNG(t, 2)
	up, err := w.user.UploadBytes(w.ctx, pic, "image/png")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.user.SetAvatarURL(w.ctx, up.ContentURI); err != nil {
		t.Fatal(err)
	}
	w.expectAnswer(t, "set-picture", "Your MSN display picture is now your Matrix avatar.")
	cursor := w.bob.cursor()
	w.expectAnswer(t, "set-status away", "Your MSN status is now Away.")
	want := p2p.SHA1D(pic)
	got := w.bobFetchesMyPicture(t, cursor, func(p *msnclient.ContactPresence) bool {
		o, err := p2p.ParseMSNObject(p.MSNObject)
		return err == nil && o.SHA1D == want
	})
	if !bytes.Equal(got, pic) {
		t.Fatalf("bob got %d bytes, my avatar has %d: they differ", len(got), len(pic))
	}
	w.expectAnswer(t, "set-status online", "Your MSN status is now Online.")

	// After a reconnect the picture is announced with the first status.
	cursor = w.bob.cursor()
	w.srv.DropConnections(meEmail)
	_, err = w.bob.waitAfter(w.ctx, cursor, msgTimeout, "my picture after a reconnect", func(evt any) bool {
		p, ok := evt.(*msnclient.ContactPresence)
		if !ok || p.Email != meEmail || p.Status == msnclient.StatusOffline || p.MSNObject == "" {
			return false
		}
		o, err := p2p.ParseMSNObject(p.MSNObject)
		return err == nil && o.SHA1D == want
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testPictureFigure measures the time from a contact's new MSNObject (the
// CHG that announces it) to the ghost's avatar being set.
func (w *world) testPictureFigure(t *testing.T) {
	const n = 20
	ghost := w.br.GhostMXID(bobEmail)
	cur, err := w.ghostAvatar(ghost)
	if err != nil {
		t.Fatal(err)
	}
	took := make([]time.Duration, 0, n)
	for i := range n {
		status := msnclient.StatusAway
		if i%2 == 1 {
			status = msnclient.StatusOnline
		}
		pic := picturePNG(t, 100+i)
		if _, err := w.bob.SetDisplayPictureData(w.ctx, pic); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := w.bob.SetStatus(w.ctx, status); err != nil {
			t.Fatal(err)
		}
		got, err := w.pollGhostAvatar(ghost, cur)
		if err != nil {
			t.Fatalf("picture %d: %v", i, err)
		}
		took = append(took, time.Since(start))
		cur = got
	}
	if err := w.bob.SetStatus(w.ctx, msnclient.StatusOnline); err != nil {
		t.Fatal(err)
	}
	w.waitRoomAvatar(t, w.bobRoom, cur)
	slices.Sort(took)
	recordFigure(t, "msnobject_to_ghost_avatar_median", took[n/2].Round(time.Millisecond).String())
	recordFigure(t, "msnobject_to_ghost_avatar_p90", took[n*9/10].Round(time.Millisecond).String())
}

// waitRoomAvatar waits until the DM room shows the contact's avatar.
func (w *world) waitRoomAvatar(t *testing.T, room id.RoomID, want id.ContentURI) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		var content event.RoomAvatarEventContent
		if err := w.user.StateEvent(w.ctx, room, event.StateRoomAvatar, "", &content); err != nil {
			return err
		}
		if content.URL.ParseOrIgnore() != want {
			return fmt.Errorf("room avatar is %q, want %q", content.URL, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// pollGhostAvatar polls the ghost's profile often (for timing) until its
// avatar is other than old.
func (w *world) pollGhostAvatar(ghost id.UserID, old id.ContentURI) (id.ContentURI, error) {
	deadline := time.Now().Add(msgTimeout)
	for {
		got, err := w.ghostAvatar(ghost)
		if err == nil && !got.IsEmpty() && got != old {
			return got, nil
		}
		if time.Now().After(deadline) {
			return got, fmt.Errorf("ghost avatar still %q after %s (last error %v)", old, msgTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testPictureKeptOffline: dave signs in with a picture (announced in his
// first presence), his ghost gets it, and it stays when he signs out.
func (w *world) testPictureKeptOffline(t *testing.T) {
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	pic := picturePNG(t, 3)
	cfg := msnConfig(w.srv, daveEmail, peerPass)
	cfg.DisplayPicture = pic
	dave := newPeer(daveEmail, "Dave Offline")
	dave.Client = msnclient.NewClient(cfg, dave.handle)
	if err := dave.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	defer dave.Close()
	ghost := w.br.GhostMXID(daveEmail)
	old, err := w.ghostAvatar(ghost)
	if err != nil {
		t.Fatal(err)
	}
	mxc := w.waitGhostAvatar(t, ghost, old)
	got, err := w.user.DownloadBytes(w.ctx, mxc)
	if err != nil || !bytes.Equal(got, pic) {
		t.Fatalf("dave's ghost avatar: %d bytes (%v), want his %d-byte picture", len(got), err, len(pic))
	}
	if err := dave.Close(); err != nil {
		t.Fatal(err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if p, err := w.ghostPresence(ghost); err != nil || p != event.PresenceOffline {
			return fmt.Errorf("dave's ghost presence %q (%v), want offline", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if now, err := w.ghostAvatar(ghost); err != nil || now != mxc {
		t.Fatalf("dave's ghost avatar is %q after he signed out (%v), want %q kept", now, err, mxc)
	}
}

// testSetPictureFromImage: `set-picture` in reply to an image makes that
// image, as a 96x96 PNG with its aspect kept, the MSN picture.
func (w *world) testSetPictureFromImage(t *testing.T) {
	// A wide 200x100 image, not yet what MSN clients expect.
	img := image.NewNRGBA(image.Rect(0, 0, 200, 100))
	for i := 0; i < len(img.Pix); i += 4 {
		img.Pix[i], img.Pix[i+3] = 255, 255 // opaque red
	}
	var src bytes.Buffer
	if err := png.Encode(&src, img); err != nil {
		t.Fatal(err)
	}
	up, err := w.user.UploadBytes(w.ctx, src.Bytes(), "image/png")
	if err != nil {
		t.Fatal(err)
	}
	imgEvt, err := w.user.SendMessageEvent(w.ctx, w.mgmt, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgImage, Body: "wide.png", URL: up.ContentURI.CUString(),
		Info: &event.FileInfo{MimeType: "image/png", Width: 200, Height: 100, Size: src.Len()},
	})
	if err != nil {
		t.Fatal(err)
	}
	cursor := w.user.Cursor()
	_, err = w.user.SendMessageEvent(w.ctx, w.mgmt, event.EventMessage, &event.MessageEventContent{
		MsgType: event.MsgText, Body: "set-picture",
		RelatesTo: &event.RelatesTo{InReplyTo: &event.InReplyTo{EventID: imgEvt.EventID}},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The bot also answers the image itself (not a command): wait for the
	// answer about the picture.
	answer, err := w.user.WaitEventAfter(w.ctx, cursor, msgTimeout, func(evt *event.Event) bool {
		return evt.RoomID == w.mgmt && evt.Sender == w.bot && evt.Type == event.EventMessage &&
			strings.Contains(evt.Content.AsMessage().Body, "display picture")
	})
	if err != nil {
		t.Fatal(err)
	}
	if body := answer.Content.AsMessage().Body; !strings.Contains(body, "Your MSN display picture is now that image.") {
		t.Fatalf("bot answered %q", body)
	}
	bobCursor := w.bob.cursor()
	w.expectAnswer(t, "set-status busy", "Your MSN status is now Busy.")
	got := w.bobFetchesMyPicture(t, bobCursor, func(p *msnclient.ContactPresence) bool {
		return p.Status == msnclient.StatusBusy
	})
	pic, err := png.Decode(bytes.NewReader(got))
	if err != nil {
		t.Fatalf("bob got no PNG: %v", err)
	}
	if b := pic.Bounds(); b.Dx() != 96 || b.Dy() != 96 {
		t.Fatalf("bob got a %v picture, want 96x96", b)
	}
	if _, _, _, a := pic.At(48, 2).RGBA(); a != 0 {
		t.Error("the wide image fills the top of the square: aspect not kept")
	}
	if r, _, _, a := pic.At(48, 48).RGBA(); a == 0 || r < 0xf000 {
		t.Error("the middle of the picture is not the red image")
	}
	w.expectAnswer(t, "set-status online", "Your MSN status is now Online.")
}

// bobFetchesMyPicture waits until bob sees my presence with an MSNObject
// that match accepts, and returns the picture bob fetches over P2P.
func (w *world) bobFetchesMyPicture(t *testing.T, cursor int, match func(*msnclient.ContactPresence) bool) []byte {
	t.Helper()
	evt, err := w.bob.waitAfter(w.ctx, cursor, msgTimeout, "my picture", func(evt any) bool {
		p, ok := evt.(*msnclient.ContactPresence)
		return ok && p.Email == meEmail && p.MSNObject != "" && match(p)
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, msgTimeout)
	defer cancel()
	got, err := w.bob.FetchDisplayPicture(ctx, meEmail, evt.(*msnclient.ContactPresence).MSNObject)
	if err != nil {
		t.Fatalf("bob could not fetch my picture: %v", err)
	}
	return got
}
