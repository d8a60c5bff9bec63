package msntest

// Endpoint is what a signed-in MSNP16+ endpoint told the server about
// itself (UUX PrivateEndpointData).
type Endpoint struct {
	MachineGUID string // lower case, no braces
	Name        string // EpName
	Idle        string
	ClientType  string
	State       string
}

// Endpoints returns the signed-in endpoints of email that have a machine
// GUID, in login order.
func (s *Server) Endpoints(email string) []Endpoint {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Endpoint
	for _, sess := range s.sessionsOf(s.accounts[key(email)]) {
		if sess.machineGUID == "" {
			continue
		}
		out = append(out, Endpoint{MachineGUID: sess.machineGUID, Name: sess.epName, Idle: sess.idle,
			ClientType: sess.clientType, State: sess.epState})
	}
	return out
}
