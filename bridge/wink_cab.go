package bridge

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf16"
)

// A wink is a Microsoft cabinet (CAB) holding content.xml, which names the
// wink's files, a Flash animation and a still thumbnail. This file reads
// just enough of the format (MS-CAB: uncompressed and MSZIP folders, the
// two WLM uses) to take the thumbnail out. Everything is bounded: the
// input is a peer's.

// Bounds of cabinet reading.
const (
	cabMaxFolders  = 16
	cabMaxFiles    = 256
	cabMaxFileSize = 1 << 20 // largest file taken out (a thumbnail is a few KiB)
	cabMaxUnpacked = 8 << 20 // folder data unpacked to reach a file (a wink has a few hundred KiB)
	cabBlockMax    = 32768   // uncompressed bytes of one CFDATA block (format limit)
)

// Compression types of a CAB folder (low 4 bits of typeCompress).
const (
	cabCompressNone  = 0
	cabCompressMSZIP = 1
)

var errBadCAB = errors.New("malformed cabinet")

// cabFolder is a CFFOLDER entry.
type cabFolder struct {
	dataOff  uint32 // first CFDATA block
	blocks   uint16
	compress uint16
}

// cabFile is a CFFILE entry.
type cabFile struct {
	name   string
	size   uint32
	offset uint32 // in the folder's uncompressed data
	folder uint16
}

// cabinet is a parsed CAB header.
type cabinet struct {
	data        []byte
	folders     []cabFolder
	files       []cabFile
	dataReserve int // bytes reserved in each CFDATA block
}

// parseCAB reads a cabinet's header, folders and file entries.
func parseCAB(data []byte) (*cabinet, error) {
	le := binary.LittleEndian
	if len(data) < 36 || string(data[:4]) != "MSCF" {
		return nil, fmt.Errorf("%w: no MSCF signature", errBadCAB)
	}
	coffFiles := le.Uint32(data[16:20])
	nFolders, nFiles, flags := int(le.Uint16(data[26:28])), int(le.Uint16(data[28:30])), le.Uint16(data[30:32])
	if nFolders == 0 || nFolders > cabMaxFolders || nFiles > cabMaxFiles {
		return nil, fmt.Errorf("%w: %d folders, %d files", errBadCAB, nFolders, nFiles)
	}
	c := &cabinet{data: data}
	off := 36
	folderReserve := 0
	if flags&0x0004 != 0 { // reserved fields present
		if off+4 > len(data) {
			return nil, fmt.Errorf("%w: truncated header", errBadCAB)
		}
		headerReserve := int(le.Uint16(data[off : off+2]))
		folderReserve, c.dataReserve = int(data[off+2]), int(data[off+3])
		off += 4 + headerReserve
	}
	for _, set := range []uint16{0x0001, 0x0002} { // previous, next cabinet names
		if flags&set != 0 {
			for range 2 {
				i := bytes.IndexByte(data[min(off, len(data)):], 0)
				if i < 0 {
					return nil, fmt.Errorf("%w: truncated header", errBadCAB)
				}
				off += i + 1
			}
		}
	}
	for range nFolders {
		if off+8 > len(data) {
			return nil, fmt.Errorf("%w: truncated folder entry", errBadCAB)
		}
		c.folders = append(c.folders, cabFolder{dataOff: le.Uint32(data[off:]), blocks: le.Uint16(data[off+4:]), compress: le.Uint16(data[off+6:])})
		off += 8 + folderReserve
	}
	off = int(coffFiles)
	for range nFiles {
		if off < 0 || off+16 > len(data) {
			return nil, fmt.Errorf("%w: truncated file entry", errBadCAB)
		}
		f := cabFile{size: le.Uint32(data[off:]), offset: le.Uint32(data[off+4:]), folder: le.Uint16(data[off+8:])}
		attribs := le.Uint16(data[off+14:])
		end := bytes.IndexByte(data[off+16:], 0)
		if end < 0 || end > 1024 {
			return nil, fmt.Errorf("%w: bad file name", errBadCAB)
		}
		f.name = string(data[off+16 : off+16+end])
		if attribs&0x80 == 0 {
			f.name = latin1(f.name) // not flagged UTF-8: the OEM code page; Latin-1 is close enough for a lookup
		}
		off += 16 + end + 1
		c.files = append(c.files, f)
	}
	return c, nil
}

// latin1 converts ISO-8859-1 bytes to UTF-8.
func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

// extract returns the contents of f, at most cabMaxFileSize bytes.
func (c *cabinet) extract(f cabFile) ([]byte, error) {
	if int(f.folder) >= len(c.folders) {
		return nil, fmt.Errorf("%w: file %q in folder %d", errBadCAB, f.name, f.folder)
	}
	if f.size > cabMaxFileSize {
		return nil, fmt.Errorf("%w: file %q has %d bytes", errBadCAB, f.name, f.size)
	}
	folder := c.folders[f.folder]
	need := uint64(f.offset) + uint64(f.size)
	if need > cabMaxUnpacked {
		return nil, fmt.Errorf("%w: file %q ends %d bytes into its folder", errBadCAB, f.name, need)
	}
	var out []byte
	le := binary.LittleEndian
	off := int(folder.dataOff)
	for b := 0; b < int(folder.blocks) && uint64(len(out)) < need; b++ {
		if off < 0 || off+8+c.dataReserve > len(c.data) {
			return nil, fmt.Errorf("%w: truncated data block", errBadCAB)
		}
		packed, unpacked := int(le.Uint16(c.data[off+4:])), int(le.Uint16(c.data[off+6:]))
		start := off + 8 + c.dataReserve
		if start+packed > len(c.data) || unpacked > cabBlockMax {
			return nil, fmt.Errorf("%w: data block out of bounds", errBadCAB)
		}
		block := c.data[start : start+packed]
		off = start + packed
		switch folder.compress & 0x000F {
		case cabCompressNone:
			if packed != unpacked {
				return nil, fmt.Errorf("%w: stored block of %d bytes claims %d", errBadCAB, packed, unpacked)
			}
			out = append(out, block...)
		case cabCompressMSZIP:
			// "CK", then a deflate stream that may refer to the previous
			// 32 KiB of output.
			if len(block) < 2 || block[0] != 'C' || block[1] != 'K' {
				return nil, fmt.Errorf("%w: MSZIP block without CK", errBadCAB)
			}
			dict := out[max(0, len(out)-cabBlockMax):]
			r := flate.NewReaderDict(bytes.NewReader(block[2:]), dict)
			got, err := io.ReadAll(io.LimitReader(r, cabBlockMax+1))
			_ = r.Close()
			if err != nil || len(got) != unpacked {
				return nil, fmt.Errorf("%w: MSZIP block: %d bytes, %d announced: %v", errBadCAB, len(got), unpacked, err)
			}
			out = append(out, got...)
		default:
			return nil, fmt.Errorf("%w: compression %d not supported", errBadCAB, folder.compress&0x000F)
		}
	}
	if uint64(len(out)) < need {
		return nil, fmt.Errorf("%w: file %q ends past its folder's data", errBadCAB, f.name)
	}
	return out[f.offset:need], nil
}

// winkContent is the part of a wink's content.xml naming its files.
type winkContent struct {
	Items []struct {
		Type     string `xml:"type,attr"`
		File     string `xml:"file,attr"`
		MimeType string `xml:"mimetype,attr"`
	} `xml:"item"`
}

// winkPreview returns the wink's still picture (the thumbnail content.xml
// names, else its first PNG, GIF or JPEG file) with its extension and
// MIME type, or nil when there is none the bridge can take out.
func winkPreview(cab []byte) ([]byte, string, string) {
	c, err := parseCAB(cab)
	if err != nil {
		return nil, "", ""
	}
	byName := func(name string) (cabFile, bool) {
		for _, f := range c.files {
			if strings.EqualFold(path.Base(strings.ReplaceAll(f.name, `\`, "/")), name) {
				return f, true
			}
		}
		return cabFile{}, false
	}
	var candidates []cabFile
	if f, ok := byName("content.xml"); ok {
		if text, err := c.extract(f); err == nil {
			var wc winkContent
			if xml.Unmarshal(utf8XML(text), &wc) == nil {
				for _, it := range wc.Items {
					if strings.EqualFold(it.Type, "thumbnail") {
						if f, ok := byName(path.Base(strings.ReplaceAll(it.File, `\`, "/"))); ok {
							candidates = append(candidates, f)
						}
					}
				}
			}
		}
	}
	candidates = append(candidates, c.files...)
	for _, f := range candidates {
		ext, mime := imageType(f.name)
		if mime == "" {
			continue
		}
		if data, err := c.extract(f); err == nil {
			return data, ext, mime
		}
	}
	return nil, "", ""
}

// imageType returns the extension and MIME type of an image file name, or
// "" for other files.
func imageType(name string) (string, string) {
	switch ext := strings.ToLower(path.Ext(name)); ext {
	case ".png":
		return ext, "image/png"
	case ".gif":
		return ext, "image/gif"
	case ".jpg", ".jpeg":
		return ".jpg", "image/jpeg"
	}
	return "", ""
}

// utf8XML returns XML text as UTF-8 without an encoding declaration that
// encoding/xml would refuse: WLM writes content.xml in UTF-16 with a BOM
// or in UTF-8.
func utf8XML(b []byte) []byte {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE {
		units := make([]uint16, (len(b)-2)/2)
		for i := range units {
			units[i] = binary.LittleEndian.Uint16(b[2+2*i:])
		}
		b = []byte(string(utf16.Decode(units)))
	}
	b = bytes.TrimPrefix(b, []byte("\xEF\xBB\xBF"))
	if bytes.HasPrefix(b, []byte("<?xml")) {
		if i := bytes.Index(b, []byte("?>")); i >= 0 {
			b = b[i+2:]
		}
	}
	return b
}
