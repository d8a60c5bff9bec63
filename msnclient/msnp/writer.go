package msnp

import (
	"fmt"
	"io"
	"sync"
)

// Writer writes whole commands to a connection. It is safe for concurrent use:
// each command is written with a single Write call under a mutex.
type Writer struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

// WriteCommand writes cmd, appending the payload length when it has a payload.
func (w *Writer) WriteCommand(cmd *Command) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	buf, err := cmd.AppendMarshal(w.buf[:0])
	if err != nil {
		return err
	}
	if cap(buf) <= 64<<10 {
		w.buf = buf
	}
	if _, err := w.w.Write(buf); err != nil {
		return fmt.Errorf("msnp: write %s: %w", cmd.Name, err)
	}
	return nil
}
