//go:build linux && cgo

package main

/*
#include <malloc.h>

// limit_arenas caps glibc's malloc arenas; it returns 0 where the C
// library has no such setting (musl).
static int limit_arenas(int n) {
#ifdef M_ARENA_MAX
	return mallopt(M_ARENA_MAX, n);
#else
	return 0;
#endif
}

// trim gives the C heap's free memory back to the system; it returns 0
// where the C library cannot (musl).
static int trim(void) {
#ifdef __GLIBC__
	return malloc_trim(0);
#else
	return 0;
#endif
}

// arena_limit_supported reports whether the C library has the setting.
static int arena_limit_supported(void) {
#ifdef M_ARENA_MAX
	return 1;
#else
	return 0;
#endif
}
*/
import "C"

import "os"

// mallocArenas is the number of glibc malloc arenas the bridge allows.
// SQLite is called through cgo from whichever OS thread runs the
// goroutine, and glibc gives threads arenas of their own (up to 8 per
// core), each keeping freed memory: with 1,000 logins that was about a
// third of the bridge's RSS per login (docs/performance.md). Two arenas
// are plenty for the bridge's C side, which is SQLite only.
const mallocArenas = 2

// limitMallocArenas applies mallocArenas unless MALLOC_ARENA_MAX is set
// (the admin's choice wins); it reports whether it was applied.
func limitMallocArenas() bool {
	if os.Getenv("MALLOC_ARENA_MAX") != "" {
		return false
	}
	return C.limit_arenas(mallocArenas) == 1
}

// mallocArenasSupported reports whether the C library can limit its arenas
// (glibc can, musl has no arenas to limit).
func mallocArenasSupported() bool { return C.arena_limit_supported() == 1 }

// trimMalloc gives the memory glibc keeps free back to the system (SQLite's
// page caches of closed connections, mostly).
func trimMalloc() { C.trim() }
