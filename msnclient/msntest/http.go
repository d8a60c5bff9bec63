package msntest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/mautrix-msn/mautrix-msn/msnclient/internal/xmlsafe"
)

// maxBody limits HTTP request bodies.
const maxBody = 1 << 20

func (s *Server) httpHandler(scheme string) http.Handler {
	mux := http.NewServeMux()
	nexus := func(w http.ResponseWriter, r *http.Request) { s.handleNexus(w, r, scheme) }
	mux.HandleFunc("GET /rdr/pprdr.asp", nexus)
	mux.HandleFunc("GET /nexus-mock", nexus)
	mux.HandleFunc("GET /login", s.handleLogin)
	mux.HandleFunc("POST /RST.srf", func(w http.ResponseWriter, r *http.Request) { s.handleRST(w, r, false) })
	mux.HandleFunc("POST /RST2.srf", func(w http.ResponseWriter, r *http.Request) { s.handleRST(w, r, true) })
	mux.HandleFunc("POST /abservice/abservice.asmx", s.soapHandler(s.handleABService))
	mux.HandleFunc("POST /abservice/SharingService.asmx", s.soapHandler(s.handleSharing))
	mux.HandleFunc("POST /rsi/rsi.asmx", s.handleRSI)
	mux.HandleFunc("POST /OimWS/oim.asmx", s.handleOIMStore)
	mux.HandleFunc("POST /{$}", func(w http.ResponseWriter, r *http.Request) {}) // connectivity probe
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "//") { // Escargot answers doubled slashes 404 (quirk 36)
			http.NotFound(w, r)
			return
		}
		s.log.Debug().Str("method", r.Method).Str("path", r.URL.Path).Msg("HTTP request")
		mux.ServeHTTP(w, r)
	})
}

// handleNexus is the Passport nexus: it points DALogin at our /login with the
// scheme of the listener that answered.
func (s *Server) handleNexus(w http.ResponseWriter, r *http.Request, scheme string) {
	base := s.httpURL
	if scheme == "https" {
		base = s.httpsURL
	}
	w.Header().Set("PassportURLs", "DALogin="+base+"/login")
	w.WriteHeader(http.StatusOK)
}

// parsePassportAuth parses "Passport1.4 k=v,k=v,..." with percent-decoded values.
func parsePassportAuth(h string) map[string]string {
	rest, ok := strings.CutPrefix(h, "Passport1.4")
	if !ok {
		return nil
	}
	out := make(map[string]string)
	for _, part := range strings.Split(strings.TrimSpace(rest), ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			continue
		}
		if dec, err := url.PathUnescape(v); err == nil {
			v = dec
		}
		out[strings.TrimSpace(k)] = v
	}
	return out
}

// handleLogin is the Tweener login server (Passport 1.4).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	fields := parsePassportAuth(r.Header.Get("Authorization"))
	email, pwd := fields["sign-in"], fields["pwd"]
	s.mu.Lock()
	a := s.accounts[key(email)]
	var tok string
	ok := a != nil && email != "" && a.password == pwd
	if ok {
		tok, _ = s.issueToken(a.email, s.opts.TweenerTokenLifetime, false, true)
	}
	s.mu.Unlock()
	if !ok {
		s.log.Debug().Str("email", email).Msg("Tweener login failed")
		w.Header().Set("WWW-Authenticate", "Passport1.4 da-status=failed")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Authentication-Info", "Passport1.4 da-status=success,from-PP='"+tok+"'")
	w.WriteHeader(http.StatusOK)
}

func readBody(r *http.Request) ([]byte, error) { return xmlsafe.ReadAll(r.Body, maxBody) }

// xmlNode is a generic XML tree for namespace-agnostic lookups by local name.
type xmlNode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []*xmlNode `xml:",any"`
}

func parseXML(body []byte) (*xmlNode, error) {
	var n xmlNode
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	if err := d.Decode(&n); err != nil {
		return nil, fmt.Errorf("parse XML: %w", err)
	}
	return &n, nil
}

// find returns the first descendant (or self) with the local name.
func (n *xmlNode) find(local string) *xmlNode {
	if n == nil {
		return nil
	}
	if n.XMLName.Local == local {
		return n
	}
	for _, c := range n.Children {
		if f := c.find(local); f != nil {
			return f
		}
	}
	return nil
}

// findAll returns every descendant (or self) with the local name, in order.
func (n *xmlNode) findAll(local string) []*xmlNode {
	if n == nil {
		return nil
	}
	var out []*xmlNode
	if n.XMLName.Local == local {
		out = append(out, n)
	}
	for _, c := range n.Children {
		out = append(out, c.findAll(local)...)
	}
	return out
}

// child returns the first direct child with the local name.
func (n *xmlNode) child(local string) *xmlNode {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.XMLName.Local == local {
			return c
		}
	}
	return nil
}

func (n *xmlNode) text() string {
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// esc escapes s for XML character data or an attribute value.
func esc(s string) string { return xmlsafe.EscapeLossy(s) }

func writeXML(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, body)
}
