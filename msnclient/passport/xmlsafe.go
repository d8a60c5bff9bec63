package passport

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// maxBody bounds every response body read from the services.
const maxBody = 1 << 20

// readBody reads at most maxBody bytes and fails if the body is longer.
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

// errDoctype is returned for documents with a DTD (entity tricks).
var errDoctype = errors.New("XML document type declarations are not accepted")

// checkDirective rejects DOCTYPE/ENTITY declarations found by the decoder.
func checkDirective(d []byte) error {
	s := strings.ToUpper(string(bytes.TrimSpace(d)))
	if strings.HasPrefix(s, "DOCTYPE") || strings.HasPrefix(s, "ENTITY") {
		return errDoctype
	}
	return nil
}

// escapeXML escapes s for use as XML character data or attribute value.
// It fails for characters XML 1.0 cannot represent.
func escapeXML(s string) (string, error) {
	if !validXMLText(s) {
		return "", errors.New("contains characters not allowed in XML")
	}
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case '\r':
			b.WriteString("&#xD;")
		case '\n':
			b.WriteString("&#xA;")
		case '\t':
			b.WriteString("&#x9;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

// validXMLText reports whether s is valid UTF-8 made only of XML 1.0 Chars.
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
