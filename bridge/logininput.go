package bridge

import (
	"errors"
	"strings"
	"sync"

	"maunium.net/go/mautrix/bridgev2"
	"maunium.net/go/mautrix/id"
)

// retryInstructions is shown when the MSN server refused the credentials:
// the login goes on with a new prompt, so the next message is the email.
const retryInstructions = "Wrong email or password. Enter them again: first your MSN email address, " +
	"then your password (send `cancel` to stop)."

// errEmailPrompt is the answer to a rejected email at the prompt. It starts
// with the same words as ErrLoginInvalidEmail, the later check.
var errEmailPrompt = errors.New(ErrLoginInvalidEmail.Error() +
	" (one address like alice@hotmail.com, no spaces; your message was removed). Send your email address again.")

// plausibleEmail reports whether s can be an MSN login: validEmail (one @,
// no spaces or control characters) and a domain with a dot inside.
func plausibleEmail(s string) bool {
	if !validEmail(s) {
		return false
	}
	domain := s[strings.IndexByte(s, '@')+1:]
	dot := strings.IndexByte(domain, '.')
	return dot > 0 && !strings.HasSuffix(domain, ".") && !strings.Contains(domain, "..")
}

// rejectedInputs remembers, per Matrix user, that the connector rejected a
// login answer while bridgev2's command processor handled it. The command
// wrapper (commandproc.go) redacts that message afterwards: a rejected
// answer may be a password typed in the wrong place.
type rejectedInputs struct {
	mu    sync.Mutex
	users map[id.UserID]bool
}

func (r *rejectedInputs) mark(user id.UserID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == nil {
		r.users = make(map[id.UserID]bool)
	}
	r.users[user] = true
}

// take reports whether an answer of user was rejected since the last call.
func (r *rejectedInputs) take(user id.UserID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	rejected := r.users[user]
	delete(r.users, user)
	return rejected
}

// validateEmailField checks the email prompt's answer (bridgev2 calls it
// before taking the answer; on error it replies "Invalid value: <error>"
// and waits for the email again).
func (pl *PasswordLogin) validateEmailField(value string) (string, error) {
	email := strings.TrimSpace(value)
	if !plausibleEmail(email) {
		pl.markRejected()
		return "", errEmailPrompt
	}
	return email, nil
}

// validateServerField checks the server prompt's answer.
func (pl *PasswordLogin) validateServerField(value string) (string, error) {
	name := strings.TrimSpace(value)
	if _, ok := pl.connector.Config.Server(name); !ok {
		pl.markRejected()
		return "", errors.New(ErrLoginUnknownServer.Error() + ": choose one of " +
			strings.Join(pl.connector.Config.ServerNames(), ", ") + " (your message was removed)")
	}
	return name, nil
}

func (pl *PasswordLogin) markRejected() {
	if pl.user != nil {
		pl.connector.rejected.mark(pl.user.MXID)
	}
}

// retryStep asks for the credentials again after the server refused them.
func (pl *PasswordLogin) retryStep(email string) *bridgev2.LoginStep {
	step := pl.credentialsStep(email)
	step.Instructions = retryInstructions
	return step
}
