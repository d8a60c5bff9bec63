package bridge

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/bridgev2/matrix"
	"maunium.net/go/mautrix/bridgev2/simplevent"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// The latency the bridge adds to an MSN message is measured as the issue
// defines it: from the message read off the switchboard (msnclient stamps
// MessageReceived.Time when it parses the MSG) to the homeserver send
// request issued. The stamp travels with the remote event into the
// context bridgev2 handles it in (RemoteEventWithContextMutation), and
// sendObserver, wrapped around the appservice HTTP client, sees the
// PUT …/send/… request of that context go out.

// sendStamp is the receive time of one MSN message on its way to Matrix.
type sendStamp struct {
	received time.Time
	metrics  *Metrics
	issued   atomic.Bool // the first send request is the one timed
}

type sendStampKey struct{}

// observeSend records the latency once, when the send request is issued.
func (s *sendStamp) observeSend() {
	if s.issued.CompareAndSwap(false, true) {
		s.metrics.RequestIssued(ToMatrix, time.Since(s.received))
	}
}

// sendObserver is an http.RoundTripper that times the homeserver send
// requests of stamped contexts.
type sendObserver struct{ next http.RoundTripper }

func (o sendObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut && isSendPath(req.URL.Path) {
		if s, ok := req.Context().Value(sendStampKey{}).(*sendStamp); ok {
			s.observeSend()
		}
	}
	return o.next.RoundTrip(req)
}

// isSendPath reports whether path is a client-server room event send
// (/_matrix/client/…/rooms/{room}/send/{type}/{txn}).
func isSendPath(path string) bool {
	return strings.HasPrefix(path, "/_matrix/client/") && strings.Contains(path, "/send/")
}

// observeSendRequests wraps the HTTP client's transport with sendObserver
// (once). It must run before the client is used (Connector.Init).
func observeSendRequests(hc *http.Client) {
	if hc == nil {
		return
	}
	if _, ok := hc.Transport.(sendObserver); ok {
		return
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = sendObserver{next: next}
}

// stampedMessage is a remote message that carries its receive time into
// bridgev2's handling context.
type stampedMessage struct {
	*simplevent.Message[*msnclient.MessageReceived]
	stamp *sendStamp
}

var _ bridgev2.RemoteEventWithContextMutation = stampedMessage{}

// MutateContext implements bridgev2.RemoteEventWithContextMutation.
func (s stampedMessage) MutateContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, sendStampKey{}, s.stamp)
}

// stampMessage wraps evt with a stamp of received when metrics are on.
func stampMessage(metrics *Metrics, received time.Time, evt *simplevent.Message[*msnclient.MessageReceived]) bridgev2.RemoteEvent {
	if metrics == nil {
		return evt
	}
	return stampedMessage{Message: evt, stamp: &sendStamp{received: received, metrics: metrics}}
}

// observeSendLatency wraps the appservice HTTP client (shared by the bot
// and every ghost) with sendObserver when metrics are on.
func (c *Connector) observeSendLatency(br *bridgev2.Bridge) {
	if !c.Config.Metrics.Enabled {
		return
	}
	if mx, ok := br.Matrix.(*matrix.Connector); ok && mx.AS != nil {
		observeSendRequests(mx.AS.HTTPClient)
	}
}
