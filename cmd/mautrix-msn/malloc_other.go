//go:build !linux || !cgo

package main

// limitMallocArenas does nothing outside Linux with cgo.
func limitMallocArenas() bool { return false }

// trimMalloc does nothing outside Linux with cgo.
func trimMalloc() {}
