package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

func (w *world) testFigures(t *testing.T) {
	const n = 100
	ghost := w.br.GhostMXID(bobEmail)
	latencies := make([]time.Duration, 0, n)
	for i := range n {
		text := fmt.Sprintf("latency probe %03d", i)
		cursor := w.user.Cursor()
		start := time.Now()
		if err := w.bob.send(w.ctx, msnclient.TextMessage{Text: text}, meEmail); err != nil {
			t.Fatal(err)
		}
		evt, err := w.waitGhostText(cursor, ghost, w.bobRoom, text)
		if err != nil {
			t.Fatal(err)
		}
		latencies = append(latencies, evt.Seen.Sub(start))
	}
	slices.Sort(latencies)
	back := make([]time.Duration, 0, n)
	for i := range n {
		text := fmt.Sprintf("reverse probe %03d", i)
		cursor := w.bob.cursor()
		start := time.Now()
		if _, err := w.user.SendText(w.ctx, w.bobRoom, text); err != nil {
			t.Fatal(err)
		}
		if _, err := w.bob.waitText(w.ctx, cursor, meEmail, text); err != nil {
			t.Fatal(err)
		}
		back = append(back, time.Since(start))
	}
	slices.Sort(back)
	rss, err := w.br.Process().RSSKiB()
	if err != nil {
		t.Fatal(err)
	}
	recordFigure(t, "msn_to_matrix_latency_median", latencies[n/2].Round(time.Millisecond).String())
	recordFigure(t, "msn_to_matrix_latency_p90", latencies[n*9/10].Round(time.Millisecond).String())
	recordFigure(t, "matrix_to_msn_latency_median", back[n/2].Round(time.Millisecond).String())
	recordFigure(t, "matrix_to_msn_latency_p90", back[n*9/10].Round(time.Millisecond).String())
	recordFigure(t, "bridge_rss_one_login", fmt.Sprintf("%.1f MiB", float64(rss)/1024))
}

// recordFigure logs a measured figure and, when MSN_E2E_FIGURES names a
// file, appends it there as "name value".
func recordFigure(t *testing.T, name, value string) {
	t.Helper()
	t.Logf("FIGURE %s = %s", name, value)
	path := os.Getenv("MSN_E2E_FIGURES")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Errorf("record figure: %v", err)
		return
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s %s\n", name, value); err != nil {
		t.Errorf("record figure: %v", err)
	}
}
