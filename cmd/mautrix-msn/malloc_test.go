//go:build linux && cgo

package main

import "testing"

// On glibc (the Debian image, CI) the arena limit is applied, and an
// admin's MALLOC_ARENA_MAX is left alone.
func TestLimitMallocArenas(t *testing.T) {
	if !mallocArenasSupported() {
		t.Skip("this C library has no malloc arena setting (musl)")
	}
	t.Setenv("MALLOC_ARENA_MAX", "")
	if !limitMallocArenas() {
		t.Error("the arena limit was not applied on glibc")
	}
	t.Setenv("MALLOC_ARENA_MAX", "4")
	if limitMallocArenas() {
		t.Error("MALLOC_ARENA_MAX set by the admin was overridden")
	}
}
