package bridge

import (
	"net/http"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
)

// homeserverIdleConns is how many idle connections to the homeserver the
// appservice HTTP client keeps. Go's default is 2 per host: under message
// load, where each portal sends on its own, every request beyond two
// opened a new TCP connection and closed it again (a tenth of the bridge's
// CPU per message in the load harness, docs/performance.md).
const homeserverIdleConns = 64

// tuneHomeserverClient gives the appservice HTTP client (shared by the bot
// and every ghost) a transport that keeps enough idle connections. A
// transport set by bridgev2 (a unix socket) is left alone.
func tuneHomeserverClient(br *bridgev2.Bridge) {
	mx, ok := br.Matrix.(*matrix.Connector)
	if !ok || mx.AS == nil {
		return
	}
	tuneIdleConns(mx.AS.HTTPClient)
}

func tuneIdleConns(hc *http.Client) {
	if hc == nil || hc.Transport != nil {
		return
	}
	base, ok := http.DefaultTransport.(*http.Transport)
	if !ok {
		return
	}
	t := base.Clone()
	t.MaxIdleConnsPerHost = homeserverIdleConns
	t.MaxIdleConns = max(t.MaxIdleConns, homeserverIdleConns)
	hc.Transport = t
}
