package msnclient

import (
	"strings"
	"testing"
	"unsafe"
)

// TestKeepTicketsSharesEqualTickets: the tickets a session keeps are
// copied out of the RST response they were parsed from, and equal tickets
// (Escargot gives every service the same one) share one copy.
func TestKeepTicketsSharesEqualTickets(t *testing.T) {
	response := "t=0123456789abcdef0123" + strings.Repeat("x", 900) + "&p=" + "|" +
		"t=0123456789abcdef0123" + strings.Repeat("x", 900) + "&p=" + "|" +
		"t=fedcba9876543210fedc&p="
	parts := strings.Split(response, "|")
	ab, rsi, store := parts[0], parts[1], parts[2]
	keepTickets(&ab, &rsi, &store)
	if ab != parts[0] || rsi != parts[1] || store != parts[2] {
		t.Fatal("tickets changed")
	}
	data := func(s string) uintptr { return uintptr(unsafe.Pointer(unsafe.StringData(s))) }
	start, end := data(response), data(response)+uintptr(len(response))
	for _, s := range []string{ab, rsi, store} {
		if p := data(s); p >= start && p < end {
			t.Error("a kept ticket still points into the response")
		}
	}
	if data(ab) != data(rsi) {
		t.Error("equal tickets kept twice")
	}
	if data(store) == data(ab) {
		t.Error("different tickets share memory")
	}
}
