package bridge

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// MetricsConfig is the `metrics` part of the network config section.
type MetricsConfig struct {
	// Enabled turns the Prometheus endpoint on.
	Enabled bool `yaml:"enabled"`
	// Listen is the host:port of the endpoint (path /metrics). Keep it on
	// loopback unless a firewall protects it.
	Listen string `yaml:"listen"`
}

// DefaultMetricsListen is the endpoint address when none is configured.
const DefaultMetricsListen = "127.0.0.1:29341"

// MetricsExampleConfig is the example YAML of MetricsConfig, for the
// network section of example-config.yaml.
const MetricsExampleConfig = `# Prometheus metrics (logins by state, messages bridged, send failures,
# open switchboards, latency added by the bridge) at http://<listen>/metrics.
metrics:
    enabled: false
    # Keep it on loopback unless a firewall protects it.
    listen: 127.0.0.1:29341
`

// Validate checks the listen address when metrics are enabled.
func (mc MetricsConfig) Validate() error {
	if !mc.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(mc.listen()); err != nil {
		return fmt.Errorf("metrics.listen %q is not host:port: %w", mc.Listen, err)
	}
	return nil
}

func (mc MetricsConfig) listen() string {
	if mc.Listen == "" {
		return DefaultMetricsListen
	}
	return mc.Listen
}

// Direction is the way a message crossed the bridge.
type Direction string

// Directions (the "direction" label).
const (
	ToMatrix Direction = "msn_to_matrix"
	ToMSN    Direction = "matrix_to_msn"
)

// Send failure reasons (the "reason" label); see FailureReason.
const (
	ReasonOffline      = "contact_offline"
	ReasonNotDelivered = "not_acknowledged"
	ReasonTimeout      = "timeout"
	ReasonNotConnected = "not_connected"
	ReasonTooLong      = "too_long"
	ReasonUnsupported  = "unsupported"
	ReasonServerError  = "server_error"
	ReasonCanceled     = "canceled"
	ReasonOther        = "other"
)

// FailureReason maps a send error to a reason label (a small fixed set, so
// the metric's cardinality stays bounded).
func FailureReason(err error) string {
	var srvErr *msnp.ServerError
	switch {
	case errors.Is(err, msnclient.ErrContactOffline):
		return ReasonOffline
	case errors.Is(err, msnclient.ErrNotDelivered), errors.Is(err, msnclient.ErrDeliveryUnconfirmed):
		return ReasonNotDelivered
	case errors.Is(err, msnclient.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, msnclient.ErrNotConnected):
		return ReasonNotConnected
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	case errors.As(err, &srvErr):
		return ReasonServerError
	default:
		return ReasonOther
	}
}

// latencyBuckets resolve sub-millisecond latencies (the goal is a p99 of
// at most 1 ms idle), finely around that millisecond so that a percentile
// read from them is not off by a whole bucket, up to the 30 s of a
// saturated bridge.
var latencyBuckets = []float64{.00005, .0001, .00025, .0004, .0005, .0006, .00075, .001, .00125, .0015, .002, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// Metrics holds the bridge's Prometheus collectors. All methods are safe
// for concurrent use, and a nil *Metrics records nothing, so callers need
// no checks when metrics are disabled.
type Metrics struct {
	registry     *prometheus.Registry
	logins       *prometheus.GaugeVec
	messages     *prometheus.CounterVec
	sendFailures *prometheus.CounterVec
	switchboards prometheus.GaugeFunc
	latency      *prometheus.HistogramVec
	delivered    prometheus.Histogram
	signIns      prometheus.Counter

	mu         sync.Mutex
	loginState map[string]string // login ID -> state label
	server     *http.Server
	addr       net.Addr
}

// NewMetrics creates the collectors in a registry of their own (plus the
// Go runtime and process collectors). openSwitchboards is called at each
// scrape for the open switchboard count; nil reports zero.
func NewMetrics(openSwitchboards func() int) *Metrics {
	if openSwitchboards == nil {
		openSwitchboards = func() int { return 0 }
	}
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		logins: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mautrix_msn_logins",
			Help: "MSN logins by bridge state (CONNECTED, CONNECTING, TRANSIENT_DISCONNECT, BAD_CREDENTIALS, ...).",
		}, []string{"state"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mautrix_msn_messages_bridged_total",
			Help: "Messages bridged, by direction.",
		}, []string{"direction"}),
		sendFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mautrix_msn_send_failures_total",
			Help: "Matrix messages that could not be delivered to MSN, by reason.",
		}, []string{"reason"}),
		switchboards: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "mautrix_msn_switchboards_open",
			Help: "Open switchboard (conversation) connections over all logins.",
		}, func() float64 { return float64(openSwitchboards()) }),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "mautrix_msn_bridge_latency_seconds",
			Help: "Time the bridge adds to a message. MSN to Matrix: from the message read off the switchboard " +
				"to the homeserver send request issued; Matrix to MSN: from receipt to the MSN acknowledgement.",
			Buckets: latencyBuckets,
		}, []string{"direction"}),
		delivered: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "mautrix_msn_message_delivered_seconds",
			Help: "MSN to Matrix, end to end: from the message read off the switchboard to the homeserver's " +
				"answer to the send and the message stored.",
			Buckets: latencyBuckets,
		}),
		signIns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mautrix_msn_sign_ins_started_total",
			Help: "MSN sign-ins started by the connect loops (each past the login_rate cap), over all logins.",
		}),
		loginState: make(map[string]string),
	}
	m.registry.MustRegister(m.logins, m.messages, m.sendFailures, m.switchboards, m.latency, m.delivered, m.signIns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, d := range []Direction{ToMatrix, ToMSN} {
		m.messages.WithLabelValues(string(d))
	}
	return m
}

// LoginState records the current bridge state of a login (a
// status.BridgeStateEvent such as "CONNECTED").
func (m *Metrics) LoginState(loginID, state string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.loginState[loginID]; ok {
		if old == state {
			return
		}
		m.logins.WithLabelValues(old).Dec()
	}
	m.loginState[loginID] = state
	m.logins.WithLabelValues(state).Inc()
}

// LoginRemoved forgets a login (logged out or deleted).
func (m *Metrics) LoginRemoved(loginID string) {
	if m == nil {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.loginState[loginID]; ok {
		m.logins.WithLabelValues(old).Dec()
		delete(m.loginState, loginID)
	}
}

// MessageBridged counts a message that crossed the bridge and records the
// latency the bridge added (zero or negative: not recorded).
func (m *Metrics) MessageBridged(dir Direction, added time.Duration) {
	if m == nil {
		return
	}
	m.messages.WithLabelValues(string(dir)).Inc()
	if added > 0 {
		m.latency.WithLabelValues(string(dir)).Observe(added.Seconds())
	}
}

// RequestIssued records the latency the bridge added to a message: for
// MSN to Matrix, until the homeserver send request was issued.
func (m *Metrics) RequestIssued(dir Direction, added time.Duration) {
	if m == nil || added <= 0 {
		return
	}
	m.latency.WithLabelValues(string(dir)).Observe(added.Seconds())
}

// Delivered records the end-to-end time of an MSN message: until the
// homeserver accepted it and its row was stored.
func (m *Metrics) Delivered(d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.delivered.Observe(d.Seconds())
}

// SignInStarted counts a sign-in the connect loop started (after the
// login_rate cap let it through).
func (m *Metrics) SignInStarted() {
	if m == nil {
		return
	}
	m.signIns.Inc()
}

// SendFailed counts a Matrix message that could not be sent to MSN;
// reason is one of the Reason constants (FailureReason maps errors).
func (m *Metrics) SendFailed(reason string) {
	if m == nil {
		return
	}
	m.sendFailures.WithLabelValues(reason).Inc()
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Start serves /metrics on cfg's listen address until Stop. It returns
// once the listener is open, so a bad address is reported at startup;
// later serving errors go to log.
func (m *Metrics) Start(cfg MetricsConfig, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", cfg.listen())
	if err != nil {
		return fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	m.mu.Lock()
	m.server, m.addr = srv, ln.Addr()
	m.mu.Unlock()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Err(err).Msg("Metrics endpoint stopped")
		}
	}()
	return nil
}

// Addr is the address the endpoint listens on (nil before Start).
func (m *Metrics) Addr() net.Addr {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.addr
}

// Stop closes the endpoint.
func (m *Metrics) Stop(ctx context.Context) error {
	m.mu.Lock()
	srv := m.server
	m.server = nil
	m.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop metrics endpoint: %w", err)
	}
	return nil
}
