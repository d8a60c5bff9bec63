// Package xmlsafe holds the defensive XML helpers shared by msnclient and
// its SOAP packages: bounded body reading, strict decoding that refuses
// DTDs and non-UTF-8 charsets, XML 1.0 character validation and escaping.
package xmlsafe

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ErrDoctype is returned for documents with a document type declaration
// (entity expansion tricks).
var ErrDoctype = errors.New("XML document type declarations are not accepted")

// ErrInvalidChar is returned by Escape for text XML 1.0 cannot represent.
// Its message never contains the value (it may be a password or ticket).
var ErrInvalidChar = errors.New("contains characters not allowed in XML")

// ErrCharset is returned for documents declaring an encoding other than UTF-8.
var ErrCharset = errors.New("only UTF-8 XML is accepted")

// ReadAll reads r to the end and fails if it holds more than limit bytes.
func ReadAll(r io.Reader, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("body larger than %d bytes", limit)
	}
	return data, nil
}

// NewDecoder returns a strict decoder over data. Invalid UTF-8 is replaced
// by U+FFFD and other declared charsets are refused. encoding/xml never
// expands external entities; callers walking tokens should pass every
// xml.Directive to CheckDirective.
func NewDecoder(data []byte) *xml.Decoder {
	if !utf8.Valid(data) {
		data = bytes.ToValidUTF8(data, []byte("\uFFFD"))
	}
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	d.CharsetReader = func(charset string, _ io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("%w (got %q)", ErrCharset, charset)
	}
	return d
}

// CheckDirective returns ErrDoctype for a DOCTYPE or ENTITY directive.
func CheckDirective(d xml.Directive) error {
	s := bytes.TrimSpace(d)
	for _, word := range []string{"DOCTYPE", "ENTITY"} {
		if len(s) >= len(word) && strings.EqualFold(string(s[:len(word)]), word) {
			return ErrDoctype
		}
	}
	return nil
}

// Unmarshal decodes the first element of data into v with NewDecoder,
// refusing any DOCTYPE or ENTITY declaration.
func Unmarshal(data []byte, v any) error {
	if hasDTD(data) {
		return ErrDoctype
	}
	return NewDecoder(data).Decode(v)
}

// hasDTD reports whether data contains "<!doctype" or "<!entity" in any case.
func hasDTD(data []byte) bool {
	for i := bytes.IndexByte(data, '<'); i >= 0; {
		rest := data[i:]
		for _, marker := range []string{"<!doctype", "<!entity"} {
			if len(rest) >= len(marker) && strings.EqualFold(string(rest[:len(marker)]), marker) {
				return true
			}
		}
		j := bytes.IndexByte(rest[1:], '<')
		if j < 0 {
			break
		}
		i += j + 1
	}
	return false
}

// ValidText reports whether s is valid UTF-8 made only of XML 1.0 Chars.
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		ok := r == 0x09 || r == 0x0A || r == 0x0D ||
			(r >= 0x20 && r <= 0xD7FF) ||
			(r >= 0xE000 && r <= 0xFFFD) ||
			(r >= 0x10000 && r <= 0x10FFFF)
		if !ok {
			return false
		}
	}
	return true
}

// Escape escapes s for XML character data or a quoted attribute value
// (quotes, tab, CR and LF become character references, so they survive a
// round trip). It fails for characters XML 1.0 cannot represent.
func Escape(s string) (string, error) {
	if !ValidText(s) {
		return "", ErrInvalidChar
	}
	return EscapeLossy(s), nil
}

// EscapeLossy is Escape for values that may be altered rather than refused:
// characters XML cannot represent become U+FFFD.
func EscapeLossy(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // a strings.Builder never fails
	return b.String()
}
