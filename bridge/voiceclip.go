package bridge

import (
	"encoding/binary"

	"maunium.net/go/mautrix/event"
)

// voiceClipMessage is a fetched voice clip: an m.audio attachment, the
// WAV file as WLM recorded it, with its duration read from the header.
//
// WLM records in the Siren codec, which browsers do not decode: Element
// shows the clip with its duration and offers it for download; players
// built on FFmpeg (VLC, mpv) play it.
func voiceClipMessage(data []byte) *richMessage {
	f := richAttachment{partID: "voice", msgType: event.MsgAudio, name: "Voice clip.wav", mime: "audio/wav", data: data}
	if ms, ok := wavDuration(data); ok {
		f.durationMS = ms
	} else {
		// Not a WAV we can read: still the clip, as a file.
		f.msgType, f.mime, f.name = event.MsgFile, "application/octet-stream", "Voice clip"
	}
	return &richMessage{files: []richAttachment{f}, uploadFailed: "sent a voice clip, which the bridge could not upload to Matrix"}
}

// wavDuration reads the duration in milliseconds of a RIFF WAVE file:
// the size of its data chunk over the fmt chunk's bytes per second. ok is
// false when data is not a WAVE file with both chunks.
func wavDuration(data []byte) (ms int, ok bool) {
	le := binary.LittleEndian
	if len(data) < 12 || string(data[0:4]) != "RIFF" || string(data[8:12]) != "WAVE" {
		return 0, false
	}
	var bytesPerSec uint32
	haveFmt := false
	for off := 12; off+8 <= len(data); {
		id, size := string(data[off:off+4]), le.Uint32(data[off+4:off+8])
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 || body+16 > len(data) {
				return 0, false
			}
			bytesPerSec = le.Uint32(data[body+8 : body+12])
			haveFmt = bytesPerSec > 0
		case "data":
			if !haveFmt {
				return 0, false
			}
			n := uint64(size)
			if avail := uint64(len(data) - body); n > avail {
				n = avail // a header claiming more than the file holds
			}
			return int(n * 1000 / uint64(bytesPerSec)), true
		}
		next := uint64(body) + uint64(size) + uint64(size&1) // chunks are word-aligned
		if next > uint64(len(data)) {
			return 0, false
		}
		off = int(next)
	}
	return 0, false
}
