// Package msnp implements the MSNP wire format shared by the notification
// server and switchboard connections: command lines, payloads, parameter
// encoding, numeric errors and the protocol's small crypto routines.
//
// It is used by both the client library (msnclient) and the fake server
// (msnclient/msntest); it knows nothing of either.
package msnp

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Command is one MSNP command: a name, its parameters and an optional payload.
//
// Args holds every parameter after the name, the transaction id included when
// the command has one. For payload commands the length parameter is not kept
// in Args when reading, and is appended by the writer when writing.
type Command struct {
	Name       string
	Args       []string
	Payload    []byte
	HasPayload bool
}

// New builds a command without a payload.
func New(name string, args ...string) *Command {
	return &Command{Name: name, Args: args}
}

// NewPayload builds a payload command. The length parameter is added when the
// command is written.
func NewPayload(name string, payload []byte, args ...string) *Command {
	return &Command{Name: name, Args: args, Payload: payload, HasPayload: true}
}

// Arg returns the i-th parameter, or "" when there are fewer.
func (c *Command) Arg(i int) string {
	if i < 0 || i >= len(c.Args) {
		return ""
	}
	return c.Args[i]
}

// TrID returns the first parameter as a transaction id.
func (c *Command) TrID() (int, bool) {
	if len(c.Args) == 0 {
		return 0, false
	}
	n, err := strconv.Atoi(c.Args[0])
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// IsError reports whether the command is a numeric error reply.
func (c *Command) IsError() bool {
	return IsErrorName(c.Name)
}

// IsErrorName reports whether name is a three-digit error code.
func IsErrorName(name string) bool {
	if len(name) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if name[i] < '0' || name[i] > '9' {
			return false
		}
	}
	return true
}

// Err converts a numeric error reply into a *ServerError. It returns nil for
// other commands.
func (c *Command) Err() error {
	if !c.IsError() {
		return nil
	}
	code, _ := strconv.Atoi(c.Name)
	return &ServerError{Code: code, TrID: c.Arg(0)}
}

// ErrInvalidParam is returned when a parameter would break the line format.
var ErrInvalidParam = errors.New("msnp: parameter contains space, CR, LF or is empty")

// ErrInvalidName is returned for a command name that is not three letters or
// digits.
var ErrInvalidName = errors.New("msnp: invalid command name")

// Marshal renders the command in wire form. Parameters must already be
// encoded (see EncodeParam); any space, CR, LF or NUL inside a parameter, or an
// empty parameter, is rejected so that nothing can inject a second command.
func (c *Command) Marshal() ([]byte, error) {
	return c.AppendMarshal(nil)
}

// AppendMarshal is Marshal appending to buf.
func (c *Command) AppendMarshal(buf []byte) ([]byte, error) {
	if !validName(c.Name) {
		return buf, fmt.Errorf("%w: %q", ErrInvalidName, c.Name)
	}
	buf = append(buf, c.Name...)
	for _, a := range c.Args {
		if a == "" || strings.ContainsAny(a, " \r\n\x00\t") {
			return buf, fmt.Errorf("%w: %s parameter %q", ErrInvalidParam, c.Name, a)
		}
		buf = append(buf, ' ')
		buf = append(buf, a...)
	}
	if c.HasPayload || c.Payload != nil {
		buf = append(buf, ' ')
		buf = strconv.AppendInt(buf, int64(len(c.Payload)), 10)
	}
	buf = append(buf, '\r', '\n')
	buf = append(buf, c.Payload...)
	return buf, nil
}

func validName(name string) bool {
	if len(name) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		b := name[i]
		if !(b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
			return false
		}
	}
	return true
}

// String renders the command for debugging. Payloads are summarised by size.
// Callers that log commands must use Redacted instead.
func (c *Command) String() string {
	var b bytes.Buffer
	b.WriteString(c.Name)
	for _, a := range c.Args {
		b.WriteByte(' ')
		b.WriteString(a)
	}
	if c.HasPayload {
		fmt.Fprintf(&b, " <%d bytes>", len(c.Payload))
	}
	return b.String()
}

// Redacted renders the command for logs with secrets (tickets, passwords,
// cookies, MBI blobs) replaced by "<redacted>".
func (c *Command) Redacted() string {
	args := make([]string, len(c.Args))
	copy(args, c.Args)
	switch c.Name {
	case "USR", "ANS":
		// NS: USR t TWN|SSO S <ticket> [blob] [guid]; SB: USR t email cookie;
		// ANS t email cookie sid.
		for i := 2; i < len(args); i++ {
			if looksSecret(args[i]) {
				args[i] = "<redacted>"
			}
		}
	case "XFR", "RNG":
		for i := range args {
			if i > 0 && args[i-1] == "CKI" {
				args[i] = "<redacted>"
			}
		}
	}
	r := &Command{Name: c.Name, Args: args, HasPayload: c.HasPayload, Payload: c.Payload}
	return r.String()
}

func looksSecret(s string) bool {
	switch s {
	case "I", "S", "OK", "TWN", "SSO", "SHA", "A", "MD5":
		return false
	}
	if strings.Contains(s, "@") && !strings.Contains(s, "=") {
		return false
	}
	if len(s) <= 3 {
		return false // small counters such as "1 0"
	}
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		return false // machine GUID
	}
	return true
}
