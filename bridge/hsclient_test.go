package bridge

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
)

// Requests to the homeserver reuse connections when many portals send at
// once: after a round of 16 concurrent requests, a second round opens no
// new connection (Go's default transport keeps 2 and dials 14 again).
func TestHomeserverClientKeepsIdleConnections(t *testing.T) {
	var conns atomic.Int32
	release := make(chan struct{})
	var arrived sync.WaitGroup
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
		_, _ = io.WriteString(w, "{}")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	hc := &http.Client{}
	tuneIdleConns(hc)
	round := func() {
		const n = 16
		arrived.Add(n)
		var done sync.WaitGroup
		for range n {
			done.Add(1)
			go func() {
				defer done.Done()
				resp, err := hc.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}()
		}
		arrived.Wait() // all 16 in flight at once
		release <- struct{}{}
		for range n - 1 {
			release <- struct{}{}
		}
		done.Wait()
	}
	round()
	first := conns.Load()
	round()
	if again := conns.Load() - first; again != 0 {
		t.Errorf("the second round opened %d new connections (first round: %d)", again, first)
	}
}
