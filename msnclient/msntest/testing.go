package msntest

import "testing"

// StartT starts a server for a test and closes it when the test ends.
func StartT(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := Start(opts)
	if err != nil {
		t.Fatalf("start fake MSN server: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
