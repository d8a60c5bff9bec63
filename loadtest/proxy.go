package loadtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/loadtest/sinkhs"
)

// forwarder is a TCP relay on a fixed loopback port in front of the fake
// MSN server's notification server, so that the server can be restarted
// (on new ports) while the bridge keeps its configured address. While
// down, it accepts and closes connections at once, as a host whose server
// is restarting refuses them.
type forwarder struct {
	ln net.Listener

	mu     sync.Mutex
	target string
	down   bool
	conns  map[net.Conn]struct{}
}

func newForwarder(target string) (*forwarder, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &forwarder{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	go f.acceptLoop()
	return f, nil
}

func (f *forwarder) addr() string { return f.ln.Addr().String() }

func (f *forwarder) acceptLoop() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		go f.relay(c)
	}
}

func (f *forwarder) relay(c net.Conn) {
	f.mu.Lock()
	target, down := f.target, f.down
	f.mu.Unlock()
	if down {
		c.Close()
		return
	}
	up, err := net.DialTimeout("tcp", target, 10*time.Second)
	if err != nil {
		c.Close()
		return
	}
	f.mu.Lock()
	f.conns[c], f.conns[up] = struct{}{}, struct{}{}
	f.mu.Unlock()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		dst.Close()
		src.Close()
		done <- struct{}{}
	}
	go pipe(up, c)
	go pipe(c, up)
	<-done
	<-done
	f.mu.Lock()
	delete(f.conns, c)
	delete(f.conns, up)
	f.mu.Unlock()
}

// setDown closes every relayed connection and refuses new ones (down) or
// relays again to target.
func (f *forwarder) set(target string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down = down
	if target != "" {
		f.target = target
	}
	if down {
		for c := range f.conns {
			c.Close()
		}
	}
}

func (f *forwarder) close() {
	f.ln.Close()
	f.set("", true)
}

// passportPaths are the fake server's sign-in endpoints: one request to one
// of them is one Passport login (Tweener /login for MSNP8-12, RST for
// MSNP13-17, RST2 for MSNP18).
var passportPaths = []string{"/login", "/RST.srf", "/RST2.srf"}

// httpCounter is a reverse proxy in front of the fake server's HTTP
// services that counts Passport logins per second. It reads each answer
// whole before passing it on (the answers are small SOAP documents), so a
// restart of the server behind it never leaves a half-copied body.
type httpCounter struct {
	srv    *http.Server
	ln     net.Listener
	client *http.Client

	mu     sync.Mutex
	target string
	logins sinkhs.Counter
}

func newHTTPCounter(target string) (*httpCounter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &httpCounter{ln: ln, target: target, client: &http.Client{
		Timeout:   2 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64},
	}}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	return h, nil
}

func (h *httpCounter) url() string { return "http://" + h.ln.Addr().String() }

func (h *httpCounter) setTarget(target string) error {
	if _, err := url.Parse(target); err != nil {
		return err
	}
	h.mu.Lock()
	h.target = target
	h.mu.Unlock()
	return nil
}

func (h *httpCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, p := range passportPaths {
		if strings.EqualFold(r.URL.Path, p) {
			h.logins.Add(time.Now())
			break
		}
	}
	h.mu.Lock()
	target := h.target
	h.mu.Unlock()
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx := context.WithoutCancel(r.Context())
	out, err := http.NewRequestWithContext(ctx, r.Method, target+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := h.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	for k, v := range resp.Header {
		if k != "Content-Length" {
			w.Header()[k] = v
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(data)
}

func (h *httpCounter) passportLogins() sinkhs.Timeline { return h.logins.Snapshot() }

func (h *httpCounter) close() error {
	err := h.srv.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
