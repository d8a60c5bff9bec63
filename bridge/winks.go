package bridge

import (
	"bytes"
	"image"

	"maunium.net/go/mautrix/event"

	"github.com/mautrix-msn/mautrix-msn/msnclient/p2p"
)

// winkMessage is a fetched wink: an emote naming it, the wink's package
// (a CAB archive holding the Flash animation, which no Matrix client
// plays) as a file, and its still preview as an image when the archive
// has one the bridge can read.
func winkMessage(name string, cab []byte) *richMessage {
	emote := "sent a wink"
	file := "wink.cab"
	if name = cleanLine(name); name != "" {
		emote += " “" + name + "”"
		file = p2p.CleanFileName(name + ".cab")
	}
	msg := &richMessage{
		emote:        emote,
		files:        []richAttachment{{partID: "wink", msgType: event.MsgFile, name: file, mime: "application/vnd.ms-cab-compressed", data: cab}},
		uploadFailed: "sent a wink, which the bridge could not upload to Matrix",
	}
	if preview, ext, mime := winkPreview(cab); preview != nil {
		if cfg, _, err := image.DecodeConfig(bytes.NewReader(preview)); err == nil {
			base := "wink"
			if name != "" {
				base = name
			}
			// The picture first: it is what the user sees of the wink.
			msg.files = append([]richAttachment{{partID: "preview", msgType: event.MsgImage, name: p2p.CleanFileName(base + ext),
				mime: mime, data: preview, width: cfg.Width, height: cfg.Height}}, msg.files...)
		}
	}
	return msg
}
