package loadtest

import (
	"testing"
	"time"
)

// The quantile of a histogram interpolates inside the bucket holding it,
// as Prometheus' histogram_quantile does, and only counts the samples
// since the earlier snapshot.
func TestHistogramQuantile(t *testing.T) {
	bounds := []float64{0.001, 0.002, 0.005}
	before := histogram{bounds: bounds, counts: []uint64{5, 5, 5}, count: 5}
	after := histogram{bounds: bounds, counts: []uint64{55, 105, 105}, count: 105}
	d := after.sub(before)
	if d.count != 100 {
		t.Fatalf("count = %d", d.count)
	}
	if got := d.quantile(0.5); got != time.Millisecond {
		t.Errorf("p50 = %s, want 1ms (the top of the first bucket)", got)
	}
	if got := d.quantile(0.99); got < 1900*time.Microsecond || got > 2*time.Millisecond {
		t.Errorf("p99 = %s, want just under 2ms", got)
	}
	if got := d.shareAtMost(0.001); got != 0.5 {
		t.Errorf("share within 1 ms = %v, want 0.5", got)
	}
	if got := d.shareAtMost(0.003); got != 0 {
		t.Errorf("share within 3 ms (no such bucket bound) = %v, want 0", got)
	}
	if got := (histogram{}).quantile(0.5); got != 0 {
		t.Errorf("empty histogram p50 = %s", got)
	}
}

func TestMedianOfRuns(t *testing.T) {
	runs := []*Report{
		{ToMatrix: Throughput{PerSecond: 300}, Storm: ReconnectStorm{Seconds: 40}, Memory: []MemoryPoint{{RSSKiB: 10}}},
		{ToMatrix: Throughput{PerSecond: 100}, Storm: ReconnectStorm{Seconds: 20}, Memory: []MemoryPoint{{RSSKiB: 30}}},
		{ToMatrix: Throughput{PerSecond: 200}, Storm: ReconnectStorm{Seconds: 60}, Memory: []MemoryPoint{{RSSKiB: 20}}},
	}
	m := Median(runs)
	if m.Runs != 3 || m.ToMatrix.PerSecond != 200 || m.Storm.Seconds != 40 || m.Memory[0].RSSKiB != 20 {
		t.Errorf("median = runs %d, %v msg/s, storm %v s, RSS %d", m.Runs, m.ToMatrix.PerSecond, m.Storm.Seconds, m.Memory[0].RSSKiB)
	}
}

// The peak of sign-ins started in one second comes from the bridge's
// counter sampled every 200 ms: the largest increase within one second.
func TestPeakStartsPerSecond(t *testing.T) {
	t0 := time.Now()
	var s []signInSample
	counts := []float64{0, 0, 10, 20, 30, 40, 50, 60, 60, 60}
	for i, c := range counts {
		s = append(s, signInSample{t0.Add(time.Duration(i) * 200 * time.Millisecond), c})
	}
	if got := peakStartsPerSecond(s); got != 50 {
		t.Errorf("peak = %v, want 50 (10 -> 60 within one second)", got)
	}
	if got := peakStartsPerSecond(nil); got != 0 {
		t.Errorf("peak of nothing = %v", got)
	}
}

// The median report lists each run's load.
func TestMedianNotesEachRunsLoad(t *testing.T) {
	runs := []*Report{{LoadBefore: "1.0", LoadAfter: "2.0"}, {LoadBefore: "3.0", LoadAfter: "4.0"}, {LoadBefore: "5.0", LoadAfter: "6.0"}}
	m := Median(runs)
	if len(m.RunLoads) != 3 || m.RunLoads[1] != "before 3.0, after 4.0" {
		t.Errorf("run loads = %q", m.RunLoads)
	}
}
