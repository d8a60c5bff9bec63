package abch

import "testing"

func BenchmarkDecodeAddressBook(b *testing.B) {
	data := []byte(abFindContactsPagedResponse)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var env abFindContactsPagedEnvelope
		if err := decodeResponse("ABFindContactsPaged", 200, data, &env); err != nil {
			b.Fatal(err)
		}
		_ = convertAddressBook(&env.Result)
	}
}
