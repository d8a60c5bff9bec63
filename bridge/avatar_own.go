package bridge

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // decoders of the images users pick
	_ "image/jpeg"
	"image/png"
	"sync"

	_ "golang.org/x/image/bmp"
	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
	"maunium.net/go/mautrix/bridgev2/commands"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// The user's picture on MSN: their Matrix avatar (or an image chosen with
// set-picture), converted to what MSN clients show (a 96x96 PNG, aspect
// kept, transparent margins), announced in the MSNObject with the status
// and served over P2P by msnclient.

// pictureSide is the width and height of MSN display pictures.
const pictureSide = 96

// Limits of images converted to a display picture.
const (
	maxSourceImageBytes  = 20 << 20
	maxSourceImagePixels = 64 << 20
)

// ownPicture caches the converted picture of a login.
type ownPicture struct {
	mu     sync.Mutex
	source id.ContentURIString // the image it was made from
	png    []byte
}

// ownPicture returns the login's converted picture, nil when none is known
// yet (the first session then announces it once converted).
func (m *MSNClient) ownPicture() []byte {
	m.ownPic.mu.Lock()
	defer m.ownPic.mu.Unlock()
	return m.ownPic.png
}

// pictureSource returns the image the user's picture comes from: the one
// chosen with set-picture, else their Matrix avatar ("" when none).
func (m *MSNClient) pictureSource(ctx context.Context) (id.ContentURIString, error) {
	if m.meta.PictureMXC != "" {
		return id.ContentURIString(m.meta.PictureMXC), nil
	}
	mc, ok := m.connector.Bridge.Matrix.(*matrix.Connector)
	if !ok {
		return "", errors.New("no Matrix connection to read the avatar")
	}
	profile, err := mc.Bot.GetProfile(ctx, m.login.UserMXID)
	if err != nil {
		return "", fmt.Errorf("get Matrix profile of %s: %w", m.login.UserMXID, err)
	}
	return profile.AvatarURL.CUString(), nil
}

// syncOwnPicture makes the user's picture source their MSN picture on cl.
// It does nothing when the source has not changed since the last time.
func (m *MSNClient) syncOwnPicture(ctx context.Context, cl *msnclient.Client, file *event.EncryptedFileInfo) {
	if err := m.setOwnPicture(ctx, cl, file, false); err != nil {
		m.log.Warn().Err(err).Msg("Could not set the MSN display picture")
	}
}

func (m *MSNClient) setOwnPicture(ctx context.Context, cl *msnclient.Client, file *event.EncryptedFileInfo, force bool) error {
	if m.connector.Bridge == nil {
		return nil
	}
	src, err := m.pictureSource(ctx)
	if err != nil {
		return err
	}
	m.ownPic.mu.Lock()
	defer m.ownPic.mu.Unlock()
	if src == m.ownPic.source && !force {
		return nil
	}
	var pic []byte
	if src != "" {
		data, err := m.connector.Bridge.Bot.DownloadMedia(ctx, src, file)
		if err != nil {
			return fmt.Errorf("download %s: %w", src, err)
		}
		if pic, err = displayPicturePNG(data, m.connector.Config.Pictures.maxSize()); err != nil {
			return err
		}
	}
	if _, err := cl.SetDisplayPictureData(ctx, pic); err != nil {
		return fmt.Errorf("announce display picture: %w", err)
	}
	m.ownPic.source, m.ownPic.png = src, pic
	m.log.Debug().Str("source", string(src)).Int("bytes", len(pic)).Msg("Set MSN display picture")
	return nil
}

// displayPicturePNG converts an image (PNG, JPEG, GIF, BMP, WebP) to a
// 96x96 PNG: scaled to fit with its aspect kept, centred on a transparent
// square.
func displayPicturePNG(data []byte, maxSize int64) ([]byte, error) {
	if len(data) > maxSourceImageBytes {
		return nil, fmt.Errorf("image of %d bytes is too large (limit %d)", len(data), maxSourceImageBytes)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("not an image the bridge can read (PNG, JPEG, GIF, BMP, WebP): %w", err)
	}
	if format == "png" && cfg.Width == pictureSide && cfg.Height == pictureSide && int64(len(data)) <= maxSize {
		if _, err := png.Decode(bytes.NewReader(data)); err == nil {
			return data, nil // already what MSN clients expect: kept as is
		}
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || int64(cfg.Width)*int64(cfg.Height) > maxSourceImagePixels {
		return nil, fmt.Errorf("image of %dx%d pixels is too large", cfg.Width, cfg.Height)
	}
	src, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode image: %w", err)
	}
	b := src.Bounds()
	w, h := pictureSide, pictureSide
	if b.Dx() > b.Dy() {
		h = max(1, b.Dy()*pictureSide/b.Dx())
	} else if b.Dy() > b.Dx() {
		w = max(1, b.Dx()*pictureSide/b.Dy())
	}
	dst := image.NewNRGBA(image.Rect(0, 0, pictureSide, pictureSide))
	at := image.Rect((pictureSide-w)/2, (pictureSide-h)/2, (pictureSide-w)/2+w, (pictureSide-h)/2+h)
	draw.CatmullRom.Scale(dst, at, src, b, draw.Src, nil)
	var out bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, dst); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	if int64(out.Len()) > maxSize {
		return nil, fmt.Errorf("display picture of %d bytes is over the %d-byte limit", out.Len(), maxSize)
	}
	return out.Bytes(), nil
}

// cmdSetPicture sets the MSN display picture: with no argument the user's
// Matrix avatar (and from then on follows it), or, in reply to an image,
// that image.
func (c *Connector) cmdSetPicture(ce *commands.Event) {
	m, ok := commandLogin(ce)
	if !ok {
		return
	}
	if len(ce.Args) != 0 {
		replyPlain(ce, "Usage: set-picture (uses your Matrix avatar), or reply to an image with set-picture.")
		return
	}
	var file *event.EncryptedFileInfo
	chosen := ""
	if ce.ReplyTo != "" {
		mxc, f, err := c.repliedImage(ce)
		if err != nil {
			replyPlain(ce, "Could not use the message you replied to: %v", err)
			return
		}
		chosen, file = string(mxc), f
	}
	old := m.meta.PictureMXC
	m.meta.PictureMXC = chosen
	if !runOnClient(ce, m, "set your display picture", func(ctx context.Context, cl *msnclient.Client) error {
		return m.setOwnPicture(ctx, cl, file, true)
	}) {
		m.meta.PictureMXC = old
		return
	}
	if file != nil {
		// The key of an encrypted image is not kept: follow the image only
		// for this session.
		m.meta.PictureMXC = old
	} else if err := m.login.Save(ce.Ctx); err != nil {
		m.log.Err(err).Msg("Failed to save the chosen picture")
	}
	what := "your Matrix avatar"
	if chosen != "" {
		what = "that image"
	}
	if m.ownPicture() == nil {
		replyPlain(ce, "You have no Matrix avatar, so your MSN display picture was removed.")
		return
	}
	replyPlain(ce, "Your MSN display picture is now %s. Contacts signing in see it at once; "+
		"contacts already online see it after your next status change (the MSN server does not pass on a picture change alone).", what)
}

// repliedImage returns the image of the message the command replies to.
func (c *Connector) repliedImage(ce *commands.Event) (id.ContentURIString, *event.EncryptedFileInfo, error) {
	mc, ok := c.Bridge.Matrix.(*matrix.Connector)
	if !ok {
		return "", nil, errors.New("no Matrix connection")
	}
	evt, err := mc.Bot.GetEvent(ce.Ctx, ce.RoomID, ce.ReplyTo)
	if err != nil {
		return "", nil, fmt.Errorf("fetch it: %w", err)
	}
	if evt.Type != event.EventMessage && evt.Type != event.EventSticker {
		return "", nil, errors.New("it is not an image message (is the room encrypted?)")
	}
	if err := evt.Content.ParseRaw(evt.Type); err != nil && !errors.Is(err, event.ErrContentAlreadyParsed) {
		return "", nil, fmt.Errorf("read it: %w", err)
	}
	content := evt.Content.AsMessage()
	if content.MsgType != event.MsgImage && evt.Type != event.EventSticker {
		return "", nil, errors.New("it is not an image")
	}
	if content.File != nil {
		return content.File.URL, content.File, nil
	}
	if content.URL == "" {
		return "", nil, errors.New("it has no image")
	}
	return content.URL, nil, nil
}
