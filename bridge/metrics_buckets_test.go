package bridge

import (
	"net/http/httptest"
	"testing"
	"time"
)

// The latency histogram resolves sub-millisecond latencies, so the goal
// of at most 1 ms added (issue 14) can be read from it: 0.3 ms lands in
// the 0.5 ms bucket, not the 5 ms one.
func TestLatencyHistogramSubMillisecond(t *testing.T) {
	m := NewMetrics(nil)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	m.MessageBridged(ToMatrix, 300*time.Microsecond)
	m.MessageBridged(ToMatrix, 2*time.Millisecond)
	text := scrape(t, srv.URL)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="0.00025"} 0`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="0.0005"} 1`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="0.001"} 1`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="0.0025"} 2`)
}
