package bridge

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/simplevent"
	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// Defaults of the file settings.
const (
	defaultMaxFileSize      = msnclient.DefaultMaxFileSize
	defaultFileOfferTimeout = 2 * time.Minute
)

func (c *Config) maxFileSize() int64 {
	if c.MaxFileSize <= 0 {
		return defaultMaxFileSize
	}
	return c.MaxFileSize
}

func (c *Config) fileOfferTimeout() time.Duration {
	if c.FileOfferTimeoutSeconds <= 0 {
		return defaultFileOfferTimeout
	}
	return time.Duration(c.FileOfferTimeoutSeconds) * time.Second
}

// fileKind is what a file is shown as in Matrix.
type fileKind struct {
	msgType       event.MessageType
	mimeType      string
	width, height int // images whose header could be read
}

// sniffFile works out the MIME type of a file from its content, falling
// back to its extension when the content says nothing specific (plain
// bytes or text), and the Matrix message type from the MIME type. For
// images it reads the dimensions. r is read from its start.
func sniffFile(r io.ReaderAt, size int64, name string) fileKind {
	head := make([]byte, min(size, 512))
	n, _ := r.ReadAt(head, 0)
	mimeType := http.DetectContentType(head[:n])
	generic := mimeType == "application/octet-stream" || strings.HasPrefix(mimeType, "text/plain")
	if byExt := mime.TypeByExtension(strings.ToLower(filepath.Ext(name))); generic && byExt != "" {
		mimeType = byExt
	}
	mimeType = strings.TrimSpace(mimeType)
	k := fileKind{msgType: event.MsgFile, mimeType: mimeType}
	base, _, _ := strings.Cut(mimeType, ";")
	switch {
	case strings.HasPrefix(base, "image/"):
		k.msgType = event.MsgImage
		if cfg, _, err := image.DecodeConfig(io.NewSectionReader(r, 0, size)); err == nil {
			k.width, k.height = cfg.Width, cfg.Height
		}
	case strings.HasPrefix(base, "video/"):
		k.msgType = event.MsgVideo
	case strings.HasPrefix(base, "audio/"):
		k.msgType = event.MsgAudio
	}
	return k
}

// handleFileReceived bridges a file a contact sent: it is uploaded to the
// portal's room (streamed from the temporary file, encrypted in encrypted
// rooms) as an image, video, audio or file message.
func (m *MSNClient) handleFileReceived(ctx context.Context, evt *msnclient.FileReceived) {
	pk, err := m.conversationPortal(ctx, evt.ConversationEvent, evt.From)
	if err != nil {
		_ = evt.File.Close()
		m.log.Err(err).Str("from", evt.From).Msg("Dropping MSN file without a portal")
		return
	}
	closeFile := func(context.Context, *bridgev2.Portal) { _ = evt.File.Close() }
	res := m.login.QueueRemoteEvent(&simplevent.Message[*msnclient.FileReceived]{
		EventMeta: simplevent.EventMeta{
			Type:           bridgev2.RemoteEventMessage,
			LogContext:     m.logContext(evt.From),
			PortalKey:      pk,
			Sender:         m.sender(evt.From, false),
			CreatePortal:   true,
			Timestamp:      time.Now(),
			PostHandleFunc: closeFile,
		},
		Data:               evt,
		ID:                 m.msgIDs.New(),
		ConvertMessageFunc: convertReceivedFile,
	})
	if !res.Queued {
		// Handled already, or dropped before the callbacks that close it
		// (no portal, the portal could not be created): close the
		// temporary file here so it does not hold disk space until a
		// restart. Closing twice is harmless.
		_ = evt.File.Close()
	}
}

// convertReceivedFile uploads a received file and makes its message.
func convertReceivedFile(ctx context.Context, portal *bridgev2.Portal, intent bridgev2.MatrixAPI, evt *msnclient.FileReceived) (*bridgev2.ConvertedMessage, error) {
	defer evt.File.Close()
	kind := sniffFile(evt.File, evt.Size, evt.Name)
	content := &event.MessageEventContent{
		MsgType:  kind.msgType,
		Body:     evt.Name,
		FileName: evt.Name,
		Info:     &event.FileInfo{MimeType: kind.mimeType, Size: int(evt.Size), Width: kind.width, Height: kind.height},
	}
	var err error
	content.URL, content.File, err = intent.UploadMediaStream(ctx, portal.MXID, evt.Size, false, func(w io.Writer) (*bridgev2.FileStreamResult, error) {
		if _, err := evt.File.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		if _, err := io.Copy(w, evt.File); err != nil {
			return nil, fmt.Errorf("copy received file: %w", err)
		}
		return &bridgev2.FileStreamResult{FileName: evt.Name, MimeType: kind.mimeType}, nil
	})
	if err != nil {
		// The file is lost for Matrix: say so instead of nothing.
		zerolog.Ctx(ctx).Err(err).Str("file", evt.Name).Msg("Failed to upload MSN file")
		return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{
			Type: event.EventMessage,
			Content: &event.MessageEventContent{
				MsgType: event.MsgNotice,
				Body:    fmt.Sprintf("Sent a file “%s” (%s) that the bridge could not upload to Matrix.", evt.Name, formatBytes(evt.Size)),
			},
		}}}, nil
	}
	return &bridgev2.ConvertedMessage{Parts: []*bridgev2.ConvertedMessagePart{{Type: event.EventMessage, Content: content}}}, nil
}

// handleFileFailed leaves a notice for a file that did not arrive: declined
// by the bridge (too large, empty, an MSNP8 direct transfer) or broken off.
func (m *MSNClient) handleFileFailed(ctx context.Context, evt *msnclient.FileFailed) {
	m.handleNotice(ctx, evt.ConversationEvent, evt.From, fileFailedText(evt))
}

// fileFailedText is the emote shown for a file that did not arrive
// ("* Bob (MSN) sent a file “a.zip” (120.0 MiB), which was not received:
// ...").
func fileFailedText(evt *msnclient.FileFailed) string {
	what := "sent a file"
	if evt.Name != "" {
		what += " “" + evt.Name + "”"
	}
	if evt.Size > 0 {
		what += " (" + formatBytes(evt.Size) + ")"
	}
	reason := fileFailureReason(evt.Err)
	if evt.Declined {
		return what + ", which the bridge declined: " + reason
	}
	return what + ", which did not arrive: " + reason
}

// fileFailureReason says in plain words why a file did not arrive.
func fileFailureReason(err error) string {
	switch {
	case err == nil:
		return "unknown reason"
	case errors.Is(err, msnclient.ErrFileTooLarge), errors.Is(err, msnclient.ErrFileEmpty), errors.Is(err, msnclient.ErrFileNeedsDirect),
		errors.Is(err, msnclient.ErrFileSizeMismatch), errors.Is(err, msnclient.ErrFileBadOffer):
		return err.Error()
	case errors.Is(err, msnclient.ErrNotConnected):
		return "the connection to MSN was lost"
	case errors.Is(err, p2p.ErrClosed), errors.Is(err, p2p.ErrPeerError):
		return "the sender cancelled the transfer"
	case errors.Is(err, p2p.ErrTimeout):
		return "the transfer stalled"
	}
	return "the transfer broke off (" + err.Error() + ")"
}

// formatBytes formats a size for people: "512 bytes", "1.5 KiB", "100.0 MiB".
func formatBytes(n int64) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}
