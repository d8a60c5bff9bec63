package passport

import (
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const testChallenge = "ct=1,rver=1,wp=FS_40SEC_0_COMPACT,lc=1,id=1"

// loginServer is an Escargot-like /login: it parses the Passport1.4
// header the way Escargot does (comma split, percent-decoded values).
type loginServer struct {
	t        *testing.T
	email    string
	password string
	reply    string // Authentication-Info on success

	mu    sync.Mutex
	auths []string
	paths []string
}

func (l *loginServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	l.mu.Lock()
	l.auths = append(l.auths, auth)
	l.paths = append(l.paths, r.URL.Path)
	l.mu.Unlock()
	fields := map[string]string{}
	for _, part := range strings.Split(strings.TrimPrefix(auth, "Passport1.4 "), ",") {
		k, v, _ := strings.Cut(part, "=")
		dec, err := url.PathUnescape(v)
		if err != nil {
			l.t.Errorf("Authorization value %q is not percent-decodable: %v", k, err)
		}
		fields[k] = dec
	}
	if fields["sign-in"] != l.email || fields["pwd"] != l.password {
		w.Header().Set("WWW-Authenticate", "Passport1.4 da-status=failed")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Authentication-Info", l.reply)
	w.WriteHeader(http.StatusOK)
}

func (l *loginServer) lastAuth() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.auths) == 0 {
		l.t.Fatal("login server received no request")
	}
	return l.auths[len(l.auths)-1]
}

func newLoginServer(t *testing.T, email, password string) *loginServer {
	return &loginServer{t: t, email: email, password: password,
		reply: "Passport1.4 da-status=success,from-PP='" + testPPToken + "'"}
}

func TestTweenerLoginEscargotNexus(t *testing.T) {
	const password = "p,w=d %&'x"
	login := newLoginServer(t, "alice@example.com", password)
	mux := http.NewServeMux()
	mux.Handle("/login", login)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	mux.HandleFunc("/rdr/pprdr.asp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("PassportURLs", "DALogin="+srv.URL+"/login")
	})

	ticket, err := TweenerLogin(testCtx(t), srv.Client(), srv.URL+"/rdr/pprdr.asp", "", "alice@example.com", password, testChallenge)
	if err != nil {
		t.Fatalf("TweenerLogin: %v", err)
	}
	if ticket != testPPToken {
		t.Errorf("ticket = %q, want %q", ticket, testPPToken)
	}
	want := "Passport1.4 OrgVerb=GET,OrgURL=http%3A%2F%2Fmessenger%2Emsn%2Ecom,sign-in=alice%40example.com,pwd=p%2Cw%3Dd%20%25%26%27x," + testChallenge
	if got := login.lastAuth(); got != want {
		t.Errorf("Authorization =\n %q\nwant\n %q", got, want)
	}
}

func TestTweenerLoginWrongPassword(t *testing.T) {
	login := newLoginServer(t, "alice@example.com", "right")
	srv := httptest.NewServer(login)
	t.Cleanup(srv.Close)
	_, err := TweenerLogin(testCtx(t), srv.Client(), "", srv.URL+"/login", "alice@example.com", "wrong", testChallenge)
	if !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("err = %v, want ErrBadCredentials", err)
	}
}

func TestTweenerLoginMicrosoftTicketAndRedirect(t *testing.T) {
	login := newLoginServer(t, "alice@example.com", "pw")
	login.reply = "Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='t=AbC*1&p=XyZ!2',ru=http://messenger.msn.com"
	final := httptest.NewServer(login)
	t.Cleanup(final.Close)
	var redirects int
	var mu sync.Mutex
	first := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		redirects++
		mu.Unlock()
		if r.Header.Get("Authorization") == "" {
			t.Error("first DA server got no Authorization header")
		}
		http.Redirect(w, r, final.URL+"/login2.srf", http.StatusFound)
	}))
	t.Cleanup(first.Close)

	ticket, err := TweenerLogin(testCtx(t), http.DefaultClient, "", first.URL+"/login2.srf", "alice@example.com", "pw", testChallenge)
	if err != nil {
		t.Fatalf("TweenerLogin: %v", err)
	}
	if ticket != "t=AbC*1&p=XyZ!2" {
		t.Errorf("ticket = %q", ticket)
	}
	if !strings.Contains(login.lastAuth(), "sign-in=alice%40example.com") {
		t.Errorf("redirected request lost the Authorization header: %q", login.lastAuth())
	}
	mu.Lock()
	defer mu.Unlock()
	if redirects != 1 {
		t.Errorf("first server hit %d times, want 1", redirects)
	}
}

func TestTweenerLoginRedirectLoop(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, srv.URL+"/again", http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	_, err := TweenerLogin(testCtx(t), srv.Client(), "", srv.URL+"/login", "a@b.c", "pw", testChallenge)
	if err == nil || !strings.Contains(err.Error(), "redirected more than") {
		t.Fatalf("err = %v, want a redirect limit error", err)
	}
}

func TestTweenerLoginRefusesDowngrade(t *testing.T) {
	plain := httptest.NewServer(newLoginServer(t, "a@b.c", "pw"))
	t.Cleanup(plain.Close)
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/login", http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	_, err := TweenerLogin(testCtx(t), tlsSrv.Client(), "", tlsSrv.URL+"/login", "a@b.c", "pw", testChallenge)
	if err == nil || !strings.Contains(err.Error(), "HTTPS to HTTP") {
		t.Fatalf("err = %v, want the downgrade refused", err)
	}
}

func TestTweenerLoginBadResponses(t *testing.T) {
	tests := []struct {
		name   string
		status int
		info   string
		want   string
	}{
		{"no header", http.StatusOK, "", "no Authentication-Info"},
		{"no from-PP", http.StatusOK, "Passport1.4 da-status=success", "no from-PP"},
		{"unterminated", http.StatusOK, "Passport1.4 da-status=success,from-PP='abc", "not terminated"},
		{"empty ticket", http.StatusOK, "Passport1.4 da-status=success,from-PP=''", "empty"},
		{"server error", http.StatusInternalServerError, "", "HTTP status 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.info != "" {
					w.Header().Set("authentication-info", tc.info)
				}
				w.WriteHeader(tc.status)
			}))
			t.Cleanup(srv.Close)
			_, err := TweenerLogin(testCtx(t), srv.Client(), "", srv.URL+"/login", "a@b.c", "pw", testChallenge)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
			if errors.Is(err, ErrBadCredentials) {
				t.Errorf("err = %v must not claim bad credentials", err)
			}
		})
	}
}

func TestTweenerLoginRejectsChallengeWithNewline(t *testing.T) {
	srv := httptest.NewServer(newLoginServer(t, "a@b.c", "pw"))
	t.Cleanup(srv.Close)
	_, err := TweenerLogin(testCtx(t), srv.Client(), "", srv.URL+"/login", "a@b.c", "pw", "lc=1\r\nX-Evil: 1")
	if err == nil {
		t.Fatal("challenge with CRLF accepted")
	}
}

func TestNexusLookup(t *testing.T) {
	tests := []struct {
		name   string
		header string // header name as written on the wire
		value  string
		want   string
	}{
		{"escargot with scheme", "PassportURLs", "DALogin=https://login.example.test/login", "https://login.example.test/login"},
		{"microsoft without scheme", "PassportURLs", "DARealm=Passport.Net,DALogin=login.passport.com/login2.srf,DAReg=http://register.passport.net/uixpwiz.srf,Properties=https://register.passport.net/editprof.srf", "https://login.passport.com/login2.srf"},
		{"lower-case header", "passporturls", "DALogin=login.example.test/login", "https://login.example.test/login"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()[tc.header] = []string{tc.value}
			}))
			t.Cleanup(srv.Close)
			got, err := NexusLookup(testCtx(t), srv.Client(), srv.URL+"/rdr/pprdr.asp")
			if err != nil {
				t.Fatalf("NexusLookup: %v", err)
			}
			if got != tc.want {
				t.Errorf("login URL = %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("missing header", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		t.Cleanup(srv.Close)
		if _, err := NexusLookup(testCtx(t), srv.Client(), srv.URL); err == nil {
			t.Error("want an error without PassportURLs")
		}
	})
}

// A nexus answering in Microsoft's style (DALogin without scheme) must lead
// to an HTTPS login, verified with the CA file.
func TestTweenerLoginTLSNexusWithoutScheme(t *testing.T) {
	login := newLoginServer(t, "alice@example.com", "pw")
	mux := http.NewServeMux()
	mux.Handle("/login2.srf", login)
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "https://")
	mux.HandleFunc("/rdr/pprdr.asp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("PassportURLs", "DARealm=Passport.Net,DALogin="+host+"/login2.srf,DAReg=x")
	})
	client, err := NewHTTPClient(writeCA(t, srv), 30*time.Second)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	ticket, err := TweenerLogin(testCtx(t), client, srv.URL+"/rdr/pprdr.asp", "", "alice@example.com", "pw", testChallenge)
	if err != nil {
		t.Fatalf("TweenerLogin: %v", err)
	}
	if ticket != testPPToken {
		t.Errorf("ticket = %q", ticket)
	}
}

// writeCA writes the test server's certificate as a PEM CA file.
func writeCA(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	block := &pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNewHTTPClientCustomCA(t *testing.T) {
	_, plainSTS := startSTS(t, http.StatusOK, escargotRST(false))
	srv := httptest.NewTLSServer(plainSTS.Config.Handler)
	t.Cleanup(srv.Close)
	url := srv.URL + "/RST.srf"

	withCA, err := NewHTTPClient(writeCA(t, srv), 30*time.Second)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	if _, err := RequestSecurityTokens(testCtx(t), withCA, url, false, "a@b.c", "pw", "MBI_KEY_OLD"); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}

	withoutCA, err := NewHTTPClient("", 30*time.Second)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	_, err = RequestSecurityTokens(testCtx(t), withoutCA, url, false, "a@b.c", "pw", "MBI_KEY_OLD")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("without the CA file: err = %v, want a certificate error", err)
	}
}

func TestNewHTTPClientBadCAFile(t *testing.T) {
	if _, err := NewHTTPClient(filepath.Join(t.TempDir(), "missing.pem"), 0); err == nil {
		t.Error("missing CA file accepted")
	}
	empty := filepath.Join(t.TempDir(), "empty.pem")
	if err := os.WriteFile(empty, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHTTPClient(empty, 0); err == nil || !strings.Contains(err.Error(), "no PEM certificates") {
		t.Errorf("CA file without certificates: err = %v", err)
	}
}
