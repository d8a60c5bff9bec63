package loadtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"maunium.net/go/mautrix/id"
)

// bridgeAPI talks to the running bridge only through its public surfaces:
// the provisioning API (shared secret), the debug API (pprof) and the
// Prometheus metrics endpoint. It never looks inside the process.
type bridgeAPI struct {
	asURL      string // appservice address (provisioning, debug)
	metricsURL string
	secret     string
	pid        int
	http       *http.Client
}

type loginStep struct {
	LoginID string `json:"login_id"`
	Type    string `json:"type"`
	StepID  string `json:"step_id"`
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func (b *bridgeAPI) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, b.asURL+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.secret)
	resp, err := b.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// login logs the Matrix user in to the MSN account through the
// provisioning API: start the password flow, submit the credentials.
func (b *bridgeAPI) login(ctx context.Context, user id.UserID, email, password string) error {
	q := "?user_id=" + url.QueryEscape(string(user))
	var start loginStep
	if err := b.do(ctx, http.MethodPost, "/_matrix/provision/v3/login/start/password"+q, nil, &start); err != nil {
		return fmt.Errorf("start login of %s: %w", user, err)
	}
	if start.Type != "user_input" {
		return fmt.Errorf("start login of %s: unexpected step %q", user, start.Type)
	}
	var done loginStep
	path := fmt.Sprintf("/_matrix/provision/v3/login/step/%s/%s/user_input%s",
		url.PathEscape(start.LoginID), url.PathEscape(start.StepID), q)
	if err := b.do(ctx, http.MethodPost, path, map[string]string{"email": email, "password": password}, &done); err != nil {
		return fmt.Errorf("log %s in to %s: %w", user, email, err)
	}
	if done.Type != "complete" {
		return fmt.Errorf("log %s in to %s: ended at step %q", user, email, done.Type)
	}
	return nil
}

// gc asks the bridge's Go runtime for a collection through the debug API
// (pprof heap with gc=1), so memory figures are not taken mid-cycle.
func (b *bridgeAPI) gc(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.asURL+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.secret)
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("debug API: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("debug API: HTTP %d", resp.StatusCode)
	}
	return nil
}

// saveProfile downloads a pprof profile (e.g. "heap", "profile?seconds=10")
// to path.
func (b *bridgeAPI) saveProfile(ctx context.Context, name, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.asURL+"/debug/pprof/"+name, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+b.secret)
	resp, err := b.http.Do(req)
	if err != nil {
		return fmt.Errorf("debug API: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("debug API %s: HTTP %d", name, resp.StatusCode)
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

// metrics is one scrape of the bridge's Prometheus endpoint.
type metrics map[string]*dto.MetricFamily

func (b *bridgeAPI) scrape(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.metricsURL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("parse metrics: %w", err)
	}
	return fams, nil
}

func labelIs(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue() == value
		}
	}
	return false
}

// value is the gauge or counter of family name with label=value ("" for
// a family without labels).
func (ms metrics) value(name, label, value string) float64 {
	fam := ms[name]
	if fam == nil {
		return 0
	}
	for _, m := range fam.GetMetric() {
		if label != "" && !labelIs(m, label, value) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Untyped != nil:
			return m.GetUntyped().GetValue()
		}
	}
	return 0
}

// histogram is the cumulative bucket counts of a histogram.
type histogram struct {
	bounds []float64
	counts []uint64
	count  uint64
}

func (ms metrics) histogram(name, label, value string) histogram {
	var h histogram
	fam := ms[name]
	if fam == nil {
		return h
	}
	for _, m := range fam.GetMetric() {
		if (label != "" && !labelIs(m, label, value)) || m.Histogram == nil {
			continue
		}
		for _, b := range m.GetHistogram().GetBucket() {
			h.bounds = append(h.bounds, b.GetUpperBound())
			h.counts = append(h.counts, b.GetCumulativeCount())
		}
		h.count = m.GetHistogram().GetSampleCount()
	}
	return h
}

// sub is h minus an earlier snapshot of the same histogram.
func (h histogram) sub(before histogram) histogram {
	out := histogram{bounds: h.bounds, counts: make([]uint64, len(h.counts)), count: h.count - before.count}
	for i := range h.counts {
		var b uint64
		if i < len(before.counts) {
			b = before.counts[i]
		}
		out.counts[i] = h.counts[i] - b
	}
	return out
}

// quantile estimates quantile q as Prometheus' histogram_quantile does:
// linear interpolation inside the bucket that holds it. The result is only
// as precise as the buckets around it.
func (h histogram) quantile(q float64) time.Duration {
	if h.count == 0 || len(h.bounds) == 0 {
		return 0
	}
	rank := q * float64(h.count)
	i := sort.Search(len(h.counts), func(i int) bool { return float64(h.counts[i]) >= rank })
	if i >= len(h.bounds) {
		return time.Duration(h.bounds[len(h.bounds)-1] * float64(time.Second))
	}
	lower, below := 0.0, uint64(0)
	if i > 0 {
		lower, below = h.bounds[i-1], h.counts[i-1]
	}
	upper := h.bounds[i]
	if math.IsInf(upper, 1) {
		return time.Duration(lower * float64(time.Second))
	}
	inBucket := h.counts[i] - below
	frac := 1.0
	if inBucket > 0 {
		frac = (rank - float64(below)) / float64(inBucket)
	}
	return time.Duration((lower + (upper-lower)*frac) * float64(time.Second))
}

// shareAtMost is the share of samples at or under bound, which must be
// one of the bucket bounds (0 when it is not, or without samples).
func (h histogram) shareAtMost(bound float64) float64 {
	if h.count == 0 {
		return 0
	}
	for i, b := range h.bounds {
		if math.Abs(b-bound) < 1e-12 {
			return float64(h.counts[i]) / float64(h.count)
		}
	}
	return 0
}

// procStats are the bridge process' resident memory and CPU time, from /proc.
type procStats struct {
	RSSKiB int64
	CPU    time.Duration
}

func readProcStats(pid int) (procStats, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, fmt.Errorf("read process stat: %w", err)
	}
	// Fields after the command name (which may contain spaces) in ")".
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 22 {
		return procStats{}, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	rssPages, err3 := strconv.ParseInt(fields[21], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStats{}, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return procStats{
		RSSKiB: rssPages * int64(os.Getpagesize()) / 1024,
		CPU:    time.Duration(utime+stime) * time.Second / ticksPerSecond,
	}, nil
}
