package msnclient

import "testing"

// BenchmarkBuildTextPayload measures building one outgoing text message.
func BenchmarkBuildTextPayload(b *testing.B) {
	msg := TextMessage{Text: "The quick brown fox jumps over the lazy dog", Format: Format{Font: "Segoe UI", Bold: true, Color: 0x336699}}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		header := buildTextHeader(msg.Format)
		parts := splitText(normalizeText(msg.Text), maxPayload-len(header))
		payload := make([]byte, 0, len(header)+len(parts[0]))
		_ = append(append(payload, header...), parts[0]...)
	}
}

// BenchmarkParseTextMessage measures turning one received payload into a
// MessageReceived event.
func BenchmarkParseTextMessage(b *testing.B) {
	payload := append(buildTextHeader(Format{Font: "Segoe UI", Bold: true, Color: 0x336699}), "The quick brown fox jumps over the lazy dog"...)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, ok := messageEvent("bob@example.com", "Bob", false, payload).(*MessageReceived); !ok {
			b.Fatal("not a text message")
		}
	}
}
