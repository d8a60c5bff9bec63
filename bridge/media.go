package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// fileFeatures are the media MSN conversations take: any file, as a P2P
// file transfer to each contact, up to the size limit; captions go as a
// text after.
func (c *Connector) fileFeatures() event.FileFeatureMap {
	ff := &event.FileFeatures{
		MimeTypes: map[string]event.CapabilitySupportLevel{"*/*": event.CapLevelFullySupported},
		Caption:   event.CapLevelPartialSupport,
		MaxSize:   c.Config.maxFileSize(),
	}
	return event.FileFeatureMap{
		event.MsgImage: ff, event.MsgFile: ff, event.MsgVideo: ff, event.MsgAudio: ff, event.CapMsgSticker: ff,
	}
}

// mediaDownloader fetches Matrix media into a temporary file.
type mediaDownloader interface {
	DownloadMediaToFile(ctx context.Context, uri id.ContentURIString, file *event.EncryptedFileInfo, writable bool, callback func(*os.File) error) error
}

// mediaSource is where Matrix media is downloaded from: the bridge bot.
func (c *Connector) mediaSource() mediaDownloader {
	if c.media != nil {
		return c.media
	}
	return c.Bridge.Bot
}

// preferredExt picks the usual extension of a MIME type among those the
// system knows.
func preferredExt(mimeType string, exts []string) string {
	usual := map[string]string{"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
		"video/mp4": ".mp4", "audio/mpeg": ".mp3", "audio/ogg": ".ogg"}
	if e, ok := usual[mimeType]; ok {
		return e
	}
	return exts[0]
}

// publicMediaSource makes public links to Matrix media, nil when the
// bridge has none.
func (c *Connector) publicMediaSource() publicMedia {
	if c.publicMedia != nil {
		return c.publicMedia
	}
	if c.Bridge == nil {
		return nil
	}
	if pm, ok := c.Bridge.Matrix.(bridgev2.MatrixConnectorWithPublicMedia); ok {
		return pm
	}
	return nil
}

// publicMedia is the part of bridgev2.MatrixConnectorWithPublicMedia used
// for the link fallback.
type publicMedia interface {
	GetPublicMediaAddressForEvent(ctx context.Context, content *event.MessageEventContent) (string, error)
}

// mediaName is the file name of a Matrix media message: its filename, else
// its body, else a name from its type.
func mediaName(content *event.MessageEventContent) (name, caption string) {
	name = content.FileName
	if name == "" || name == content.Body {
		name = content.Body
	} else {
		caption = strings.TrimSpace(content.Body)
	}
	if strings.TrimSpace(name) == "" {
		name = "file"
		if content.MsgType == event.MsgImage || content.MsgType == event.MessageType(event.CapMsgSticker) {
			name = "image"
		}
	}
	// Stickers and some clients' images have a description, not a file
	// name: give it the extension of its type so the contact can open it.
	if filepath.Ext(name) == "" && content.Info != nil && content.Info.MimeType != "" {
		if exts, _ := mime.ExtensionsByType(content.Info.MimeType); len(exts) > 0 {
			name += preferredExt(content.Info.MimeType, exts)
		}
	}
	return name, caption
}

// sendMatrixFile sends a Matrix image, file, video, audio or sticker to
// the contact of a DM, or to each contact of a group chat, as a P2P file
// transfer. It returns at once with a pending response; the transfer runs
// in the background (filesend.go) and the status, success only once every
// contact received it all, comes when it ends. A caption follows as text
// in the conversation.
func (m *MSNClient) sendMatrixFile(ctx context.Context, msg *bridgev2.MatrixMessage) (*bridgev2.MatrixMessageResponse, string, error) {
	cl, err := m.client()
	if err != nil {
		return nil, FailureReason(err), m.sendFailure(err)
	}
	contacts := []string{}
	if contact, ok := dmContact(msg.Portal.ID); ok {
		contacts = append(contacts, contact)
	} else if contacts, err = m.groupParticipants(ctx, msg.Portal.PortalKey); err != nil {
		return nil, FailureReason(err), m.sendFailure(fmt.Errorf("find conversation participants: %w", err))
	}
	name, caption := mediaName(msg.Content)
	if err := m.checkAnnouncedSize(msg.Content); err != nil && !m.connector.Config.MediaFallback {
		// Refused before anything is downloaded or offered.
		return nil, ReasonUnsupported, err
	}
	return m.startFileSend(ctx, &fileSend{msg: msg, cl: cl, contacts: contacts, name: name, caption: caption, start: time.Now()}), "", nil
}

// downloadAndSend downloads the Matrix media to a temporary file and offers
// it to each contact; a file the contacts did not get is set in sendErr,
// err is a download failure.
func (m *MSNClient) downloadAndSend(ctx context.Context, msg *bridgev2.MatrixMessage, cl *msnclient.Client, contacts []string, name string, sendErr *error) error {
	content := msg.Content
	return m.connector.mediaSource().DownloadMediaToFile(ctx, content.URL, content.File, false, func(f *os.File) error {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if limit := m.connector.Config.maxFileSize(); st.Size() > limit {
			*sendErr = tooLargeError(st.Size(), limit)
			return nil
		}
		var preview []byte
		if content.MsgType == event.MsgImage || content.MsgType == event.MessageType(event.CapMsgSticker) {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			preview = imagePreview(f, st.Size())
		}
		m.typing.stop(msg.Portal.PortalKey)
		for _, contact := range contacts {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := cl.SendFile(ctx, contact, msnclient.File{Name: name, Size: st.Size(), Reader: f, Preview: preview}); err != nil {
				*sendErr = &contactFileError{contact: contact, err: err, group: len(contacts) > 1}
				return nil
			}
		}
		return nil
	})
}

// checkAnnouncedSize refuses a file whose size, as the Matrix event
// announces it, is over the limit, before anything is downloaded. The size
// is checked again on the downloaded file, as the announcement may lie.
func (m *MSNClient) checkAnnouncedSize(content *event.MessageEventContent) error {
	limit := m.connector.Config.maxFileSize()
	if content.Info == nil || int64(content.Info.Size) <= limit {
		return nil
	}
	return tooLargeError(int64(content.Info.Size), limit)
}

func tooLargeError(size, limit int64) error {
	s, l := formatBytes(size), formatBytes(limit)
	if s == l { // just over: the rounded sizes would read the same
		s, l = fmt.Sprintf("%d bytes", size), fmt.Sprintf("%d bytes", limit)
	}
	return userError(fmt.Errorf("file of %d bytes over the limit", size),
		fmt.Sprintf("The file is too large for MSN (%s, the limit is %s).", s, l))
}

// contactFileError is a file one contact of the conversation did not get.
type contactFileError struct {
	contact string
	group   bool
	err     error
}

func (e *contactFileError) Error() string { return e.contact + ": " + e.err.Error() }
func (e *contactFileError) Unwrap() error { return e.err }

// sendMediaLink sends the contact a text with a public link to the media
// (network.media_fallback), when the bridge has public media.
func (m *MSNClient) sendMediaLink(ctx context.Context, msg *bridgev2.MatrixMessage, name, caption string) error {
	pm := m.connector.publicMediaSource()
	if pm == nil {
		return errors.New("no public media")
	}
	link, err := pm.GetPublicMediaAddressForEvent(ctx, msg.Content)
	if err != nil || link == "" {
		return fmt.Errorf("public media address: %w", err)
	}
	text := name + ": " + link
	if caption != "" {
		text += "\n" + caption
	}
	cv, err := m.conversationFor(ctx, msg.Portal)
	if err != nil {
		return err
	}
	return cv.SendText(ctx, msnclient.TextMessage{Text: text})
}

// fileSendReason is the metrics reason of a failed file transfer.
func fileSendReason(err error) string {
	switch {
	case errors.Is(err, msnclient.ErrFileDeclined), errors.Is(err, msnclient.ErrFileNoAnswer), errors.Is(err, msnclient.ErrFileCancelled):
		return ReasonUnsupported
	case errors.Is(err, msnclient.ErrFileStalled):
		return ReasonTimeout
	case errors.Is(err, errSessionEnded):
		return ReasonNotConnected
	}
	return FailureReason(err)
}

// fileSendFailure is the message status of a file the contact did not get.
func (m *MSNClient) fileSendFailure(err error) error {
	who := "The contact"
	if ce := (*contactFileError)(nil); errors.As(err, &ce) && ce.group {
		who = ce.contact
	}
	switch {
	case errors.Is(err, errSessionEnded):
		return bridgev2.WrapErrorInStatus(err).
			WithMessage("The connection to MSN ended (the bridge reconnected, logged out or stopped) before the file was sent. Send it again.").
			WithIsCertain(true).WithSendNotice(true).
			WithStatus(event.MessageStatusRetriable).WithErrorReason(event.MessageStatusNetworkError)
	case errors.Is(err, msnclient.ErrFileDeclined):
		return userError(err, who+" declined the file.")
	case errors.Is(err, msnclient.ErrFileNoAnswer):
		return userError(err, fmt.Sprintf("%s did not answer in time: the file offer expired after %s without being accepted.",
			who, formatDuration(m.connector.Config.fileOfferTimeout())))
	case errors.Is(err, msnclient.ErrFileCancelled):
		return userError(err, who+" cancelled the transfer.")
	case errors.Is(err, msnclient.ErrFileStalled):
		return userError(err, "The transfer stalled: "+strings.ToLower(who[:1])+who[1:]+" accepted the file, then their Messenger stopped taking it.")
	case errors.Is(err, msnclient.ErrFileEmpty):
		return userError(err, "The file is empty: MSN cannot send a file of 0 bytes.")
	case errors.Is(err, msnclient.ErrContactOffline):
		return userError(err, who+" is offline: MSN files can only be sent to contacts who are online.")
	}
	var he *humanError
	if errors.As(err, &he) {
		return err
	}
	return m.sendFailure(err)
}

// maxPreviewBytes bounds the preview PNG sent with an image.
const maxPreviewBytes = 32 << 10

// imagePreview returns a 96x96 PNG of an image for the file offer, nil
// when the image is too large to decode or not one the bridge reads (the
// file is sent anyway).
func imagePreview(r io.Reader, size int64) []byte {
	if size > maxSourceImageBytes {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r, maxSourceImageBytes))
	if err != nil {
		return nil
	}
	preview, err := displayPicturePNG(data, maxPreviewBytes)
	if err != nil {
		return nil
	}
	return preview
}
