package msnclient_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// closeAbortsConnect starts Connect, waits for stalled (the server side has
// seen the client stuck in negotiation), calls Close and checks that Connect
// fails promptly, long before any configured timeout could end it.
func closeAbortsConnect(t *testing.T, cfg msnclient.Config, stalled <-chan struct{}) {
	t.Helper()
	cfg.DialTimeout, cfg.RequestTimeout = time.Hour, time.Hour
	c := newTestClient(cfg)
	errc := make(chan error, 1)
	start := time.Now()
	go func() { errc <- c.Connect(context.Background()) }()
	select {
	case <-stalled:
	case err := <-errc:
		t.Fatalf("Connect returned before the stall: %v", err)
	case <-time.After(testTimeout):
		t.Fatal("the client never reached the stalled step")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "closed while connecting") {
			t.Fatalf("Connect after Close: %v", err)
		}
	case <-time.After(testTimeout):
		t.Fatalf("Connect still running %s after Close", time.Since(start))
	}
	if err := c.SetStatus(context.Background(), msnclient.StatusAway); !errors.Is(err, msnclient.ErrNotConnected) {
		t.Errorf("after the aborted Connect: %v, want ErrNotConnected", err)
	}
}

// scriptedNS answers the login commands of one NS connection: VER with the
// version offered, CVR, and USR with the SSO challenge; anything in stallOn
// is never answered and closes stalled instead.
func scriptedNS(t *testing.T, stallOn string, stalled chan<- struct{}) (addr string, clientGone <-chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	gone := make(chan struct{})
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		defer close(gone)
		r := bufio.NewReader(conn)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return // the client hung up
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				continue
			}
			if f[0] == stallOn {
				close(stalled)
				stallOn = ""
				continue
			}
			switch f[0] {
			case "VER":
				_, _ = conn.Write([]byte("VER " + f[1] + " " + f[2] + " CVR0\r\n"))
			case "CVR":
				_, _ = conn.Write([]byte("CVR " + f[1] + " 8.5.1288 8.5.1288 8.5.1288 http://x http://x\r\n"))
			case "USR":
				_, _ = conn.Write([]byte("USR " + f[1] + " SSO S MBI_KEY_OLD bm9uY2U=\r\n"))
			}
		}
	}()
	return ln.Addr().String(), gone
}

func TestCloseAbortsConnect(t *testing.T) {
	t.Run("NS negotiation", func(t *testing.T) {
		stalled := make(chan struct{})
		addr, gone := scriptedNS(t, "VER", stalled)
		closeAbortsConnect(t, msnclient.Config{Email: "me@example.com", Password: "pw", Server: addr, Versions: []int{15}}, stalled)
		select {
		case <-gone:
		case <-time.After(testTimeout):
			t.Error("the NS connection stayed open after Close")
		}
	})
	t.Run("passport login", func(t *testing.T) {
		stalled := make(chan struct{})
		addr, _ := scriptedNS(t, "", nil)
		released := make(chan struct{})
		rst := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // lets the server notice the client hanging up
			close(stalled)
			select { // answer only when the client gives up
			case <-r.Context().Done():
				close(released)
			case <-time.After(2 * testTimeout):
			}
		}))
		t.Cleanup(rst.Close)
		closeAbortsConnect(t, msnclient.Config{Email: "me@example.com", Password: "pw", Server: addr, Versions: []int{15}, RSTURL: rst.URL + "/RST.srf", AllowPlainHTTP: true}, stalled)
		select {
		case <-released:
		case <-time.After(testTimeout):
			t.Error("the RST request was not cancelled")
		}
	})
}
