package msnp

import (
	"fmt"
	"io"
	"sync"
)

// Writer writes whole commands to a connection. It is safe for concurrent use:
// each command is written with a single Write call under a mutex.
type Writer struct {
	// MaxKeptBuffer is the largest command buffer kept between commands
	// (NewWriter sets DefaultMaxKeptBuffer). Larger commands allocate
	// their buffer when they are sent.
	MaxKeptBuffer int

	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// DefaultMaxKeptBuffer is the default Writer.MaxKeptBuffer: room for a
// text message or a presence command, not for a contact list or a P2P
// chunk.
const DefaultMaxKeptBuffer = 1 << 10

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w, MaxKeptBuffer: DefaultMaxKeptBuffer}
}

// WriteCommand writes cmd, appending the payload length when it has a payload.
func (w *Writer) WriteCommand(cmd *Command) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf, err := cmd.AppendMarshal(w.buf[:0])
	if err != nil {
		return err
	}
	// Keep the buffer for the next command unless a large one (a contact
	// list, a P2P chunk of an odd size) grew it: an idle connection should
	// not hold the largest command it ever sent.
	if cap(buf) <= w.MaxKeptBuffer {
		w.buf = buf
	} else {
		w.buf = nil
	}
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("msnp: write %s: %w", cmd.Name, err)
	}
	return nil
}
