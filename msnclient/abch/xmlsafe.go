package abch

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every response body.
const maxBody = 4 << 20

func readBody(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read response: %w", err)
	}
	if len(data) > maxBody {
		return nil, fmt.Errorf("response larger than %d bytes", maxBody)
	}
	return data, nil
}

var errDoctype = errors.New("XML document type declarations are not accepted")

// unmarshal decodes a document, refusing DTDs (entity tricks).
func unmarshal(data []byte, v any) error {
	if hasDTD(data) {
		return errDoctype
	}
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.Strict = true
	return dec.Decode(v)
}

func hasDTD(data []byte) bool {
	for _, marker := range [][]byte{[]byte("<!doctype"), []byte("<!entity")} {
		if indexFold(data, marker) >= 0 {
			return true
		}
	}
	return false
}

// indexFold is a case-insensitive bytes.Index for an ASCII lower-case needle.
func indexFold(data, lowerNeedle []byte) int {
	for i := 0; i+len(lowerNeedle) <= len(data); i++ {
		if data[i] != '<' {
			continue
		}
		if bytes.EqualFold(data[i:i+len(lowerNeedle)], lowerNeedle) {
			return i
		}
	}
	return -1
}

// esc escapes s for XML character data; it fails for characters XML 1.0
// cannot represent.
func esc(s string) (string, error) {
	if !validXMLText(s) {
		return "", fmt.Errorf("value %q contains characters not allowed in XML", s)
	}
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", fmt.Errorf("escape value: %w", err)
	}
	return b.String(), nil
}

func validXMLText(s string) bool {
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
