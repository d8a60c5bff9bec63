package passport

import "testing"

func BenchmarkParseRSTResponse(b *testing.B) {
	data := []byte(escargotRST(true))
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := parseRSTResponse(data); err != nil {
			b.Fatal(err)
		}
	}
}
