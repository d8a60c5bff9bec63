package bridge

import (
	"fmt"
	"sync"
	"testing"
)

// TestRememberedNames: a name seen in a message or join is found again by
// the contact's email in any case, the latest name wins, an empty name is
// not kept, and logins' event and side goroutines may use it at once.
func TestRememberedNames(t *testing.T) {
	m := &MSNClient{}
	if got := m.contactName("bob@example.com"); got != "bob@example.com" {
		t.Fatalf("unknown contact named %q", got)
	}
	m.rememberName("Bob@Example.com", "Bob")
	m.rememberName("bob@example.com", "")
	if got := m.contactName("BOB@example.com"); got != "Bob" {
		t.Fatalf("name = %q, want Bob", got)
	}
	m.rememberName("bob@example.com", "Bobby")
	if got := m.contactName("bob@example.com"); got != "Bobby" {
		t.Fatalf("name = %q, want Bobby", got)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 100 {
				email := fmt.Sprintf("c%d@example.com", j)
				m.rememberName(email, fmt.Sprint("name ", i))
				_ = m.contactName(email)
			}
		})
	}
	wg.Wait()
	if got := m.contactName("c99@example.com"); got == "c99@example.com" {
		t.Fatal("name of a concurrent writer lost")
	}
}
