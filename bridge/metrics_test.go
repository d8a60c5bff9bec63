package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msnp"
)

// scrape fetches the endpoint as Prometheus would.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	return string(body)
}

func wantLine(t *testing.T, text, line string) {
	t.Helper()
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return
		}
	}
	t.Errorf("metrics lack %q", line)
}

func TestMetricsEndpoint(t *testing.T) {
	m := NewMetrics(func() int { return 3 })
	if err := m.Start(MetricsConfig{Enabled: true, Listen: "127.0.0.1:0"}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	url := fmt.Sprintf("http://%s/metrics", m.Addr())

	m.LoginState("a@msn.test", "CONNECTING")
	m.LoginState("b@msn.test", "CONNECTING")
	m.LoginState("a@msn.test", "CONNECTED")
	m.LoginState("a@msn.test", "CONNECTED") // repeated: no double count
	m.MessageBridged(ToMatrix, 20*time.Millisecond)
	m.MessageBridged(ToMatrix, 3*time.Second)
	m.MessageBridged(ToMSN, 0) // counted, latency unknown
	m.SendFailed(FailureReason(fmt.Errorf("send: %w", msnclient.ErrContactOffline)))
	m.SendFailed(ReasonTooLong)

	text := scrape(t, url)
	wantLine(t, text, `mautrix_msn_logins{state="CONNECTED"} 1`)
	wantLine(t, text, `mautrix_msn_logins{state="CONNECTING"} 1`)
	wantLine(t, text, `mautrix_msn_messages_bridged_total{direction="msn_to_matrix"} 2`)
	wantLine(t, text, `mautrix_msn_messages_bridged_total{direction="matrix_to_msn"} 1`)
	wantLine(t, text, `mautrix_msn_send_failures_total{reason="contact_offline"} 1`)
	wantLine(t, text, `mautrix_msn_send_failures_total{reason="too_long"} 1`)
	wantLine(t, text, `mautrix_msn_switchboards_open 3`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="0.025"} 1`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_bucket{direction="msn_to_matrix",le="5"} 2`)
	wantLine(t, text, `mautrix_msn_bridge_latency_seconds_count{direction="msn_to_matrix"} 2`)
	if strings.Contains(text, `mautrix_msn_bridge_latency_seconds_count{direction="matrix_to_msn"}`) {
		t.Error("a zero latency was recorded")
	}

	m.LoginRemoved("a@msn.test")
	m.LoginRemoved("unknown@msn.test")
	text = scrape(t, url)
	wantLine(t, text, `mautrix_msn_logins{state="CONNECTED"} 0`)
	wantLine(t, text, `mautrix_msn_logins{state="CONNECTING"} 1`)
}

func TestMetricsStopClosesEndpoint(t *testing.T) {
	m := NewMetrics(nil)
	if err := m.Start(MetricsConfig{Enabled: true, Listen: "127.0.0.1:0"}, zerolog.Nop()); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://%s/metrics", m.Addr())
	if err := m.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("endpoint still answers after Stop")
	}
}

func TestMetricsStartBadAddress(t *testing.T) {
	m := NewMetrics(nil)
	err := m.Start(MetricsConfig{Enabled: true, Listen: "127.0.0.1:notaport"}, zerolog.Nop())
	if err == nil {
		_ = m.Stop(context.Background())
		t.Fatal("Start accepted a bad address")
	}
}

func TestNilMetricsIsNoop(t *testing.T) {
	var m *Metrics
	m.LoginState("a", "CONNECTED")
	m.LoginRemoved("a")
	m.MessageBridged(ToMSN, time.Second)
	m.SendFailed(ReasonOther)
}

func TestMetricsConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg MetricsConfig
		ok  bool
	}{
		{MetricsConfig{}, true},
		{MetricsConfig{Enabled: false, Listen: "garbage"}, true},
		{MetricsConfig{Enabled: true}, true}, // default address
		{MetricsConfig{Enabled: true, Listen: "127.0.0.1:9100"}, true},
		{MetricsConfig{Enabled: true, Listen: "[::1]:9100"}, true},
		{MetricsConfig{Enabled: true, Listen: "localhost"}, false},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestFailureReason(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("send: %w", msnclient.ErrContactOffline), ReasonOffline},
		{msnclient.ErrNotDelivered, ReasonNotDelivered},
		{&msnclient.UnconfirmedError{Late: true, Err: msnclient.ErrTimeout}, ReasonNotDelivered},
		{msnclient.ErrTimeout, ReasonTimeout},
		{context.DeadlineExceeded, ReasonTimeout},
		{msnclient.ErrNotConnected, ReasonNotConnected},
		{context.Canceled, ReasonCanceled},
		{fmt.Errorf("cal: %w", &msnp.ServerError{Code: 217}), ReasonServerError},
		{errors.New("something else"), ReasonOther},
	} {
		if got := FailureReason(tc.err); got != tc.want {
			t.Errorf("FailureReason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
