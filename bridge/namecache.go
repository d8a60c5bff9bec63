package bridge

import "sync"

// nameCache keeps the friendly names seen in messages and joins, by
// normalized email. Every login keeps one, mostly idle with a few dozen
// entries, so it is a plain map under a mutex: a sync.Map costs about
// three times as much per entry (boxed keys and values, trie nodes).
type nameCache struct {
	mu    sync.Mutex
	names map[string]string
}

// load returns the name kept for email.
func (c *nameCache) load(email string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	name, ok := c.names[email]
	return name, ok
}

// store keeps name for email.
func (c *nameCache) store(email, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.names == nil {
		c.names = make(map[string]string)
	}
	c.names[email] = name
}
