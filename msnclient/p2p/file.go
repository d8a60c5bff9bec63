package p2p

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// EUFGUIDFile is the EUF-GUID of file transfers; AppIDFile their
// application id.
const (
	EUFGUIDFile = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}"
	AppIDFile   = 2
)

// Layout of the file-transfer context (p2p.md §6.1).
const (
	fileCtxNameOff  = 20
	fileCtxNameLen  = 520 // 260 UTF-16 code units
	fileCtxV2Len    = 574
	fileCtxMinLen   = fileCtxNameOff + fileCtxNameLen
	maxPreviewSize  = 64 << 10
	maxFileNameSize = 240 // bytes of a cleaned name
)

// ErrBadFileContext is wrapped by every file context parse error.
var ErrBadFileContext = errors.New("p2p: malformed file transfer context")

// FileContext is the description of an offered file: its name (as sent,
// not cleaned: see CleanFileName), size and optional PNG preview.
type FileContext struct {
	Name    string
	Size    uint64
	Preview []byte
}

// ParseFileContext decodes the context of a file-transfer INVITE. The
// header length field is not trusted (libpurple notes it is unreliable);
// a preview is taken only when the type says one follows, at most 64 KiB.
func ParseFileContext(b []byte) (*FileContext, error) {
	if len(b) < fileCtxMinLen {
		return nil, fmt.Errorf("%w: %d bytes, need at least %d", ErrBadFileContext, len(b), fileCtxMinLen)
	}
	hdrLen := binary.LittleEndian.Uint32(b[0:4])
	fc := &FileContext{Size: binary.LittleEndian.Uint64(b[8:16])}
	units := make([]uint16, 0, fileCtxNameLen/2)
	for i := fileCtxNameOff; i < fileCtxNameOff+fileCtxNameLen; i += 2 {
		u := binary.LittleEndian.Uint16(b[i:])
		if u == 0 {
			break
		}
		units = append(units, u)
	}
	fc.Name = string(utf16.Decode(units))
	previewType := binary.LittleEndian.Uint32(b[16:20])
	if previewType == 0 && uint64(hdrLen) >= fileCtxV2Len && uint64(hdrLen) < uint64(len(b)) {
		p := b[hdrLen:]
		if len(p) > maxPreviewSize {
			p = nil // an oversized preview is dropped, not the file
		}
		fc.Preview = append([]byte(nil), p...)
	}
	return fc, nil
}

// Marshal encodes the context as libpurple does (version 2, 574 bytes),
// with the preview after it when there is one. Names longer than 259
// UTF-16 units are cut.
func (fc *FileContext) Marshal() []byte {
	b := make([]byte, fileCtxV2Len, fileCtxV2Len+len(fc.Preview))
	binary.LittleEndian.PutUint32(b[0:], fileCtxV2Len)
	binary.LittleEndian.PutUint32(b[4:], 2)
	binary.LittleEndian.PutUint64(b[8:], fc.Size)
	noPreview := uint32(1)
	if len(fc.Preview) > 0 {
		noPreview = 0
	}
	binary.LittleEndian.PutUint32(b[16:], noPreview)
	units := utf16.Encode([]rune(fc.Name))
	if len(units) > fileCtxNameLen/2-1 {
		units = units[:fileCtxNameLen/2-1]
		if utf16.IsSurrogate(rune(units[len(units)-1])) {
			units = units[:len(units)-1]
		}
	}
	for i, u := range units {
		binary.LittleEndian.PutUint16(b[fileCtxNameOff+2*i:], u)
	}
	binary.LittleEndian.PutUint32(b[570:], 0xFFFFFFFF)
	return append(b, fc.Preview...)
}

// CleanFileName makes a peer's file name safe to show and store: the last
// path element only (both / and \ separate), no control or format
// characters, no leading dots, at most 240 bytes (the extension kept),
// and "file" when nothing is left.
func CleanFileName(name string) string {
	name = strings.ToValidUTF8(name, "")
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimLeft(strings.TrimSpace(name), ".")
	name = strings.TrimSpace(name)
	if len(name) > maxFileNameSize {
		ext := ""
		if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 16 {
			ext = name[i:]
		}
		base := name[:maxFileNameSize-len(ext)]
		for !utf8.ValidString(base) {
			base = base[:len(base)-1]
		}
		name = base + ext
	}
	if name == "" {
		return "file"
	}
	return name
}
