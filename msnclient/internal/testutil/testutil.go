// Package testutil holds small helpers shared by the tests of msnclient
// and its packages.
package testutil

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// SyncBuffer is a bytes.Buffer safe for concurrent use, for capturing the
// logs of code running in several goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WalkXML decodes raw token by token, the way Escargot reads requests (by
// local names). start is called for each element with the local name of its
// parent ("" for the root); end is called at each end tag with the
// element's local name and the text since the last tag. It returns the
// first syntax error.
func WalkXML(raw []byte, start func(el xml.StartElement, parent string), end func(local, text string)) error {
	dec := xml.NewDecoder(bytes.NewReader(raw))
	var text strings.Builder
	var stack []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			text.Reset()
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1]
			}
			if start != nil {
				start(el, parent)
			}
			stack = append(stack, el.Name.Local)
		case xml.CharData:
			text.Write(el)
		case xml.EndElement:
			if end != nil {
				end(el.Name.Local, text.String())
			}
			text.Reset()
			stack = stack[:len(stack)-1]
		}
	}
}
