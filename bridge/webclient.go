package bridge

import (
	"net/http"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/passport"
)

// webRequestTimeout bounds one web-service request (msnclient's default).
const webRequestTimeout = 30 * time.Second

// webClients shares the HTTP client of the MSN web services (Passport, the
// address book, offline messages) between the logins of the bridge, one
// per CA file: one copy of the root certificates and one pool of kept-alive
// connections, instead of msnclient building a client (a copy of the
// system roots, new connections with their TLS handshakes) for every
// sign-in of every login, which is what a reconnect storm multiplies.
type webClients struct {
	mu   sync.Mutex
	byCA map[string]*http.Client
}

// get returns the shared client for caFile, or nil when it cannot be made
// (an unreadable CA file): msnclient then reports the error at sign-in.
func (w *webClients) get(caFile string) *http.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	if hc, ok := w.byCA[caFile]; ok {
		return hc
	}
	hc, err := passport.NewHTTPClient(caFile, webRequestTimeout)
	if err != nil {
		return nil
	}
	if w.byCA == nil {
		w.byCA = make(map[string]*http.Client)
	}
	w.byCA[caFile] = hc
	return hc
}

// loginConfig is the msnclient config of a login on srv, with the
// connector's shared web-service client.
func (c *Connector) loginConfig(srv *ServerConfig, email, password, machineGUID string) msnclient.Config {
	cfg := srv.clientConfig(email, password, machineGUID)
	cfg.HTTPClient = c.web.get(srv.CAFile)
	return cfg
}
