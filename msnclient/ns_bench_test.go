package msnclient_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// BenchmarkIdleClients logs 1,000 clients in to one fake server and reports
// the heap and stack bytes per connected client. The figure includes the fake
// server's side of each connection, which lives in the same process.
//
//	go test -tags goolm -run XXX -bench IdleClients -benchtime 1x ./msnclient/
func BenchmarkIdleClients(b *testing.B) {
	const n = 1000
	for _, v := range []int{11, 18} {
		b.Run(fmt.Sprintf("MSNP%d", v), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				benchIdleClients(b, v, n)
			}
		})
	}
}

func benchIdleClients(b *testing.B, version, n int) {
	b.StopTimer()
	srv := startServer(b, msntest.Options{})
	emails := make([]string, n)
	for i := range emails {
		emails[i] = fmt.Sprintf("user%04d@example.com", i)
		addAccount(b, srv, emails[i], "")
	}
	before := memInUse()
	b.StartTimer()

	clients := make([]*msnclient.Client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range clients {
		cfg := config(srv, emails[i], version)
		cfg.DeadTimeout = 10 * time.Minute
		clients[i] = msnclient.NewClient(cfg, func(any) {})
		wg.Add(1)
		go func(c *msnclient.Client) {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			if err := c.Connect(ctx); err != nil {
				errs <- err
			}
		}(clients[i])
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatalf("login: %v", err)
	}
	after := memInUse()
	b.ReportMetric(float64(after-before)/float64(n), "bytes/client")
	if path := os.Getenv("IDLE_HEAP_PROFILE"); path != "" {
		writeHeapProfile(b, path)
	}
	for _, c := range clients {
		_ = c.Close()
	}
}

func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b.Logf("goroutines %d, stack in use %d, heap in use %d", runtime.NumGoroutine(), m.StackInuse, m.HeapInuse)
	if err := pprof.WriteHeapProfile(f); err != nil {
		b.Fatal(err)
	}
}

// memInUse returns heap and stack bytes in use after a full GC.
func memInUse() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse + m.StackInuse)
}
