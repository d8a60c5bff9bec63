package msnp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Direction says which side's commands a Reader parses; the two sides use
// different rules for which commands carry a payload.
type Direction int

const (
	// FromServer parses what a server sends (a client's reader).
	FromServer Direction = iota
	// FromClient parses what a client sends (a server's reader).
	FromClient
)

// Default limits of a Reader.
const (
	DefaultMaxLine    = 16 << 10
	DefaultMaxPayload = 1 << 20
)

// Errors returned by Reader.ReadCommand. A *SyntaxError for a malformed line
// leaves the reader usable (the line was consumed); ErrLineTooLong,
// ErrPayloadTooLarge and ErrBadLength leave the stream unsynchronised and the
// connection should be closed.
var (
	ErrLineTooLong     = errors.New("msnp: command line too long")
	ErrPayloadTooLarge = errors.New("msnp: payload too large")
	ErrBadLength       = errors.New("msnp: invalid payload length")
)

// SyntaxError describes a line that could not be parsed as a command. The line
// has been consumed; the next ReadCommand continues after it.
type SyntaxError struct {
	Line string
	Msg  string
}

func (e *SyntaxError) Error() string {
	line := e.Line
	if len(line) > 64 {
		line = line[:64] + "..."
	}
	return fmt.Sprintf("msnp: malformed line %q: %s", line, e.Msg)
}

// Reader reads commands from one connection. It is not safe for concurrent use.
type Reader struct {
	r          *bufio.Reader
	dir        Direction
	MaxLine    int
	MaxPayload int
}

// DefaultBufferSize is the read buffer of NewReader.
const DefaultBufferSize = 4096

// NewReader returns a Reader with the default limits and buffer.
func NewReader(r io.Reader, dir Direction) *Reader {
	return NewReaderSize(r, dir, DefaultBufferSize)
}

// NewReaderSize returns a Reader with the default limits and a read buffer
// of size bytes. The buffer lives as long as the connection, so a long
// lived, mostly idle connection (the notification server) is best served
// by a small one; lines longer than the buffer are still read whole (up to
// MaxLine), and payloads are read straight into their own slice.
func NewReaderSize(r io.Reader, dir Direction, size int) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, size), dir: dir, MaxLine: DefaultMaxLine, MaxPayload: DefaultMaxPayload}
}

// ReadCommand reads the next command and its payload, if any.
func (r *Reader) ReadCommand() (*Command, error) {
	for {
		line, err := r.readLine()
		if err != nil {
			return nil, err
		}
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue // tolerate blank lines
		}
		cmd, hasLen, err := parseLine(line, r.dir)
		if err != nil {
			return nil, err
		}
		if !hasLen {
			return cmd, nil
		}
		lenStr := cmd.Args[len(cmd.Args)-1]
		n, perr := strconv.Atoi(lenStr)
		if perr != nil || n < 0 {
			return nil, fmt.Errorf("%w: %s length %q", ErrBadLength, cmd.Name, lenStr)
		}
		if n > r.MaxPayload {
			return nil, fmt.Errorf("%w: %s announces %d bytes (limit %d)", ErrPayloadTooLarge, cmd.Name, n, r.MaxPayload)
		}
		cmd.Args = cmd.Args[:len(cmd.Args)-1]
		cmd.HasPayload = true
		cmd.Payload = make([]byte, n)
		if _, err := io.ReadFull(r.r, cmd.Payload); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("msnp: read %s payload: %w", cmd.Name, err)
		}
		return cmd, nil
	}
}

func (r *Reader) readLine() (string, error) {
	var buf []byte
	for {
		frag, err := r.r.ReadSlice('\n')
		if len(buf)+len(frag) > r.MaxLine {
			return "", ErrLineTooLong
		}
		buf = append(buf, frag...)
		if err == nil {
			return string(buf[:len(buf)-1]), nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if errors.Is(err, io.EOF) && len(buf) > 0 {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
}

// ParseLine parses one command line (without CR/LF) read from dir. It reports
// whether the last parameter is a payload length (still in Args).
func ParseLine(line string, dir Direction) (cmd *Command, hasPayload bool, err error) {
	return parseLine(line, dir)
}

func parseLine(line string, dir Direction) (*Command, bool, error) {
	if bytes.IndexByte([]byte(line), 0) >= 0 {
		return nil, false, &SyntaxError{Line: line, Msg: "NUL byte"}
	}
	fields := strings.Split(strings.TrimLeft(line, " "), " ")
	name := fields[0]
	if !validName(name) {
		return nil, false, &SyntaxError{Line: line, Msg: "invalid command name"}
	}
	args := fields[1:]
	// Servers may send empty trailing parameters (LST with no groups).
	for len(args) > 0 && args[len(args)-1] == "" {
		args = args[:len(args)-1]
	}
	cmd := &Command{Name: name, Args: args}
	var has bool
	if dir == FromServer {
		has = serverPayload(name, args)
	} else {
		has = clientPayload(name)
	}
	if has && len(args) == 0 {
		return nil, false, &SyntaxError{Line: line, Msg: "payload command without length"}
	}
	return cmd, has, nil
}

// clientPayload lists the commands a client sends with a payload (Escargot's
// _PAYLOAD_COMMANDS).
func clientPayload(name string) bool {
	switch name {
	case "UUX", "MSG", "QRY", "NOT", "ADL", "FQY", "RML", "UUN", "UUM", "PUT", "DEL", "SDG", "VAS", "SDC":
		return true
	}
	return false
}

// serverPayload decides whether a server line announces a payload.
func serverPayload(name string, args []string) bool {
	switch name {
	case "MSG", "GCF", "UBX", "UBN", "NOT", "FQY", "UUX", "NFY", "SDG", "IPG", "PUT":
		return len(args) > 0 && isNumber(args[len(args)-1])
	case "ADL", "RML":
		return len(args) >= 2 && args[1] != "OK" && isNumber(args[len(args)-1])
	}
	if IsErrorName(name) {
		// Escargot never attaches payloads to errors; some Microsoft servers did.
		return len(args) == 2 && isNumber(args[1])
	}
	return false
}

func isNumber(s string) bool {
	return s != "" && strings.Trim(s, "0123456789-") == ""
}
