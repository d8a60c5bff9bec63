package msnclient

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// parseFormat decodes an X-MMS-IM-Format header value. Unknown keys and
// malformed values are ignored; the result is always usable.
func parseFormat(v string) Format {
	var f Format
	for _, part := range strings.Split(v, ";") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.ToUpper(strings.TrimSpace(key)) {
		case "FN":
			f.Font = decodeFontName(val)
		case "EF":
			f.Bold = strings.ContainsAny(val, "Bb")
			f.Italic = strings.ContainsAny(val, "Ii")
			f.Underline = strings.ContainsAny(val, "Uu")
			f.Strike = strings.ContainsAny(val, "Ss")
		case "CO":
			if n, err := strconv.ParseUint(val, 16, 32); err == nil {
				f.Color = bgrToRGB(uint32(n) & 0xffffff)
			}
		case "CS":
			if n, err := strconv.ParseUint(val, 16, 8); err == nil {
				f.Charset = int(n)
			}
		case "PF":
			if n, err := strconv.ParseUint(val, 10, 8); err == nil {
				f.PitchFamily = int(n)
			}
		case "RL":
			f.RightToLeft = val == "1"
		}
	}
	return f
}

// formatHeader encodes f as an X-MMS-IM-Format value.
func formatHeader(f Format) string {
	var b strings.Builder
	b.WriteString("FN=")
	b.WriteString(encodeFontName(f.Font))
	b.WriteString("; EF=")
	if f.Bold {
		b.WriteByte('B')
	}
	if f.Italic {
		b.WriteByte('I')
	}
	if f.Underline {
		b.WriteByte('U')
	}
	if f.Strike {
		b.WriteByte('S')
	}
	b.WriteString("; CO=")
	b.WriteString(strconv.FormatUint(uint64(rgbToBGR(f.Color&0xffffff)), 16))
	b.WriteString("; CS=")
	b.WriteString(strings.ToUpper(strconv.FormatUint(uint64(f.Charset&0xff), 16)))
	b.WriteString("; PF=")
	b.WriteString(strconv.Itoa(f.PitchFamily & 0xff))
	if f.RightToLeft {
		b.WriteString("; RL=1")
	}
	return b.String()
}

// encodeFontName percent-encodes a font name so that it cannot contain the
// header's separators or line breaks.
func encodeFontName(name string) string {
	return url.PathEscape(msnp.CleanText(name))
}

func decodeFontName(v string) string {
	s, err := url.PathUnescape(v)
	if err != nil {
		s = v
	}
	return msnp.CleanText(s)
}

// bgrToRGB swaps the wire's blue-green-red order into 0xRRGGBB.
func bgrToRGB(c uint32) uint32 {
	return (c&0xff)<<16 | c&0xff00 | (c>>16)&0xff
}

// rgbToBGR is the inverse of bgrToRGB (the swap is its own inverse).
func rgbToBGR(c uint32) uint32 { return bgrToRGB(c) }
