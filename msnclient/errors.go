package msnclient

import "errors"

// Errors of this package that callers rarely need to tell apart.
var (
	errServerShutdown = errors.New("msn: server is shutting down")
	errSignedOut      = errors.New("msn: signed out by the server")
)
