package passport

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

// maxDepth bounds element nesting in parsed responses.
const maxDepth = 64

// rstResult is what parseRSTResponse finds in a response.
type rstResult struct {
	tokens *Tokens
	fault  *FaultError // non-nil if the document is a SOAP fault
}

// parseRSTResponse parses a RequestSecurityTokenResponseCollection (RST or
// RST2) or a SOAP fault, by local element names only: namespaces, prefixes,
// whitespace and element order do not matter.
func parseRSTResponse(data []byte) (*rstResult, error) {
	dec := xmlsafe.NewDecoder(data)
	var (
		stack     []string
		text      strings.Builder
		cur       *Token
		inFault   bool
		sawFault  bool
		fault     FaultError
		reqStatus string
		tokens    = &Tokens{byAddr: map[string]Token{}}
		sawRoot   bool
	)
	parent := func(n int) string { // n=1: parent of the element being closed
		if i := len(stack) - 1 - n; i >= 0 {
			return stack[i]
		}
		return ""
	}
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parse XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			if err := xmlsafe.CheckDirective(t); err != nil {
				return nil, err
			}
		case xml.StartElement:
			if len(stack) >= maxDepth {
				return nil, fmt.Errorf("XML nested deeper than %d elements", maxDepth)
			}
			sawRoot = true
			name := t.Name.Local
			stack = append(stack, name)
			text.Reset()
			switch name {
			case "RequestSecurityTokenResponse":
				cur = &Token{}
			case "Fault":
				inFault, sawFault = true, true
			}
		case xml.CharData:
			if text.Len()+len(t) <= maxBody {
				text.Write(t)
			}
		case xml.EndElement:
			name := t.Name.Local
			val := strings.TrimSpace(text.String())
			text.Reset()
			switch {
			case name == "reqstatus":
				reqStatus = val
			case inFault:
				collectFault(&fault, name, parent(1), val)
				if name == "Fault" {
					inFault = false
				}
			case cur != nil:
				collectToken(cur, name, val)
				if name == "RequestSecurityTokenResponse" {
					if cur.Address != "" {
						tokens.byAddr[normAddr(cur.Address)] = *cur
					}
					cur = nil
				}
			}
			stack = stack[:len(stack)-1]
		}
	}
	if !sawRoot {
		return nil, errors.New("parse XML: empty document")
	}
	if sawFault {
		if fault.ErrorCode == "" && reqStatus != "" && reqStatus != "0x0" {
			fault.ErrorCode = reqStatus
		}
		return &rstResult{fault: &fault}, nil
	}
	return &rstResult{tokens: tokens}, nil
}

func collectToken(tok *Token, name, val string) {
	switch name {
	case "Address":
		tok.Address = val
	case "BinarySecurityToken":
		tok.Ticket = val
	case "BinarySecret":
		tok.BinarySecret = val
	case "Expires":
		if ts, err := time.Parse(time.RFC3339, val); err == nil {
			tok.Expires = ts
		}
	}
}

func collectFault(f *FaultError, name, parent, val string) {
	switch name {
	case "faultcode":
		f.Code = val
	case "faultstring":
		f.Reason = val
	case "Value":
		switch parent {
		case "Code":
			f.Code = val
		case "Subcode":
			f.Subcode = val
		}
	case "Text":
		if parent == "Reason" && f.Reason == "" {
			f.Reason = val
		}
	case "value":
		if parent == "error" {
			f.ErrorCode = val
		}
	case "text":
		if parent == "internalerror" {
			f.Detail = val
		}
	}
}
