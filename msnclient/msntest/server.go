// Package msntest is a fake MSN Messenger server on loopback for tests and
// the local demo. It speaks MSNP8 to MSNP18 on the notification server as
// Escargot does (optionally with historical Microsoft behaviour) and serves
// the HTTP side services: nexus, Tweener login, RST/RST2, the address book
// and sharing SOAP services, and the offline message services (RSI
// retrieval, OIM store; see oim.go).
package msntest

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Options configures a Server.
type Options struct {
	// Microsoft enables historical Microsoft behaviour instead of Escargot's:
	// CHL after login (QRY verified, wrong answer => 540 and close), the NS
	// address is a dispatch server that redirects with XFR NS, MSNP18 initial
	// presence uses ILN, and MSNP16+ sessions get no NLN echo of themselves.
	Microsoft bool
	// TLS also serves the HTTP services over HTTPS with a certificate signed
	// by a CA generated at start (see CACertPEM).
	TLS bool
	// TweenerTokenLifetime is how long a /login ticket stays valid
	// (default 30s, like Escargot).
	TweenerTokenLifetime time.Duration
	// Logger receives the server's log; nil means silent.
	Logger *zerolog.Logger
}

// Server is a running fake MSN server. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  zerolog.Logger

	nsLn       net.Listener // the NS clients are given (dispatch in Microsoft mode)
	nsRealLn   net.Listener // Microsoft mode: the NS the dispatch redirects to
	sbLn       net.Listener
	httpLn     net.Listener
	httpsLn    net.Listener
	httpSrv    *http.Server
	httpsSrv   *http.Server
	caCertPEM  []byte
	httpURL    string
	httpsURL   string
	closeOnce  sync.Once
	closed     chan struct{}
	wg         sync.WaitGroup
	connsMu    sync.Mutex
	conns      map[net.Conn]struct{}
	answerPing atomic.Bool
	delay      atomic.Int64
	sb         sbState    // switchboard sessions (sb*.go), guarded by its own mutex
	oimCtl     oimControl // offline message service holds and counters (oim.go)
	holds      ringHolds
	// advertisedSB overrides the switchboard address in XFR SB and RNG.
	advertisedSB atomic.Pointer[string]

	mu         sync.Mutex
	accounts   map[string]*account // by lower-cased email
	sessions   map[*nsSession]struct{}
	tokens     map[string]*token
	sbConns    map[net.Conn]string // SB connections by account key, for DropConnections
	sbCookies  map[string]*sbCookie
	failNext   map[string][]int
	soapFaults map[string][]string // queued FailNextSOAP error codes by action
	loginSeq   uint64
	changed    chan struct{} // closed and replaced on every online-state change
	circles    circleStore   // MSNP18 circles (circles*.go)
}

// Start starts a server listening on 127.0.0.1 with random ports.
func Start(opts Options) (*Server, error) {
	if opts.TweenerTokenLifetime <= 0 {
		opts.TweenerTokenLifetime = 30 * time.Second
	}
	s := &Server{
		opts:       opts,
		log:        zerolog.Nop(),
		closed:     make(chan struct{}),
		conns:      make(map[net.Conn]struct{}),
		accounts:   make(map[string]*account),
		sessions:   make(map[*nsSession]struct{}),
		tokens:     make(map[string]*token),
		sbConns:    make(map[net.Conn]string),
		sbCookies:  make(map[string]*sbCookie),
		failNext:   make(map[string][]int),
		soapFaults: make(map[string][]string),
		changed:    make(chan struct{}),
	}
	s.circles.init()
	if opts.Logger != nil {
		s.log = opts.Logger.With().Str("component", "msntest").Logger()
	}
	s.answerPing.Store(true)
	if err := s.listen(); err != nil {
		s.Close()
		return nil, err
	}
	s.serve()
	return s, nil
}

func (s *Server) listen() error {
	var err error
	listen := func(what string) (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("msntest: listen %s: %w", what, err)
		}
		return ln, nil
	}
	if s.nsLn, err = listen("NS"); err != nil {
		return err
	}
	if s.opts.Microsoft {
		if s.nsRealLn, err = listen("NS (redirect target)"); err != nil {
			return err
		}
	}
	if s.sbLn, err = listen("SB"); err != nil {
		return err
	}
	if s.httpLn, err = listen("HTTP"); err != nil {
		return err
	}
	s.httpURL = "http://" + s.httpLn.Addr().String()
	s.httpSrv = &http.Server{Handler: s.httpHandler("http"), ReadHeaderTimeout: 30 * time.Second, ErrorLog: s.httpErrorLog()}
	if s.opts.TLS {
		cert, caPEM, err := generateCert()
		if err != nil {
			return fmt.Errorf("msntest: generate certificate: %w", err)
		}
		s.caCertPEM = caPEM
		if s.httpsLn, err = listen("HTTPS"); err != nil {
			return err
		}
		s.httpsURL = "https://" + s.httpsLn.Addr().String()
		s.httpsSrv = &http.Server{
			Handler:           s.httpHandler("https"),
			ReadHeaderTimeout: 30 * time.Second,
			ErrorLog:          s.httpErrorLog(),
			TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		}
	}
	return nil
}

func (s *Server) serve() {
	if s.opts.Microsoft {
		s.acceptLoop(s.nsLn, func(c net.Conn) { s.serveNS(c, true) })
		s.acceptLoop(s.nsRealLn, func(c net.Conn) { s.serveNS(c, false) })
	} else {
		s.acceptLoop(s.nsLn, func(c net.Conn) { s.serveNS(c, false) })
	}
	s.acceptLoop(s.sbLn, s.serveSB)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.httpSrv.Serve(s.httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Err(err).Msg("HTTP server stopped")
		}
	}()
	if s.httpsSrv != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.httpsSrv.ServeTLS(s.httpsLn, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Err(err).Msg("HTTPS server stopped")
			}
		}()
	}
}

func (s *Server) acceptLoop(ln net.Listener, handle func(net.Conn)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				select {
				case <-s.closed:
				default:
					if !errors.Is(err, net.ErrClosed) {
						s.log.Err(err).Msg("accept failed")
					}
				}
				return
			}
			if !s.trackConn(c) {
				c.Close()
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer s.untrackConn(c)
				handle(c)
			}()
		}
	}()
}

func (s *Server) trackConn(c net.Conn) bool {
	s.connsMu.Lock()
	defer s.connsMu.Unlock()
	select {
	case <-s.closed:
		return false
	default:
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *Server) untrackConn(c net.Conn) {
	c.Close()
	s.connsMu.Lock()
	delete(s.conns, c)
	s.connsMu.Unlock()
}

// Close stops the server abruptly: listeners and every connection are closed.
// It waits for the server's goroutines to end.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.closeListeners()
		if s.httpSrv != nil {
			s.httpSrv.Close()
		}
		if s.httpsSrv != nil {
			s.httpsSrv.Close()
		}
		s.connsMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.connsMu.Unlock()
	})
	s.wg.Wait()
	return nil
}

func (s *Server) closeListeners() {
	for _, ln := range []net.Listener{s.nsLn, s.nsRealLn, s.sbLn} {
		if ln != nil {
			ln.Close()
		}
	}
}

// Shutdown sends OUT SSD to every NS session, closes them and stops accepting
// NS and SB connections. The HTTP services keep running until Close.
func (s *Server) Shutdown() {
	s.closeListeners()
	s.mu.Lock()
	for sess := range s.sessions {
		sess.sendOUT("SSD")
	}
	s.mu.Unlock()
}

// NSAddr is the notification server address clients connect to
// ("127.0.0.1:port"). In Microsoft mode it is the dispatch server.
func (s *Server) NSAddr() string { return s.nsLn.Addr().String() }

// SBAddr is the switchboard listener address handed out in XFR SB and RNG.
func (s *Server) SBAddr() string { return s.sbLn.Addr().String() }

// HTTPURL is the base URL of the plain HTTP services, without trailing slash.
func (s *Server) HTTPURL() string { return s.httpURL }

// HTTPSURL is the base URL of the HTTPS services, or "" unless Options.TLS.
func (s *Server) HTTPSURL() string { return s.httpsURL }

// CACertPEM is the PEM certificate of the CA that signed the HTTPS
// certificate, or nil unless Options.TLS.
func (s *Server) CACertPEM() []byte { return s.caCertPEM }

// notifyChanged wakes WaitOnline callers. s.mu must be held.
func (s *Server) notifyChanged() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// WaitOnline waits until email has a logged-in NS session, or ctx ends.
func (s *Server) WaitOnline(ctx context.Context, email string) error {
	for {
		s.mu.Lock()
		online := s.isOnlineLocked(email)
		ch := s.changed
		s.mu.Unlock()
		if online {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("msntest: wait for %s to be online: %w", email, ctx.Err())
		case <-s.closed:
			return errors.New("msntest: server closed")
		}
	}
}

// httpErrorLog sends net/http's own errors (TLS handshakes...) to the logger.
func (s *Server) httpErrorLog() *log.Logger {
	return log.New(logWriter{s.log}, "", 0)
}

type logWriter struct{ log zerolog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Debug().Msg(strings.TrimSpace(string(p)))
	return len(p), nil
}
