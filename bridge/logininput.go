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

// rejectedInputs remembers, per Matrix user, the login answers the
// connector rejected while bridgev2's command processor handled them. The
// command wrapper (commandproc.go) redacts the message that held one: a
// rejected answer may be a password typed in the wrong place. Answers are
// matched to messages by their text, as the user's messages are handled
// concurrently.
type rejectedInputs struct {
	mu    sync.Mutex
	users map[id.UserID][]string
}

// maxRejectedPerUser bounds the answers remembered per user.
const maxRejectedPerUser = 16

func (r *rejectedInputs) mark(user id.UserID, value string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.users == nil {
		r.users = make(map[id.UserID][]string)
	}
	vals := append(r.users[user], value)
	if len(vals) > maxRejectedPerUser {
		vals = vals[len(vals)-maxRejectedPerUser:]
	}
	r.users[user] = vals
}

// take reports whether message held an answer of user that was rejected,
// and forgets those answers.
func (r *rejectedInputs) take(user id.UserID, message string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	found := false
	kept := r.users[user][:0]
	for _, v := range r.users[user] {
		if strings.Contains(message, v) {
			found = true
		} else {
			kept = append(kept, v)
		}
	}
	if len(kept) == 0 {
		delete(r.users, user)
	} else {
		r.users[user] = kept
	}
	return found
}

// validateEmailField checks the email prompt's answer (bridgev2 calls it
// before taking the answer; on error it replies "Invalid value: <error>"
// and waits for the email again).
func (pl *PasswordLogin) validateEmailField(value string) (string, error) {
	email := strings.TrimSpace(value)
	if !plausibleEmail(email) {
		pl.markRejected(value)
		return "", errEmailPrompt
	}
	return email, nil
}

// validateServerField checks the server prompt's answer.
func (pl *PasswordLogin) validateServerField(value string) (string, error) {
	name := strings.TrimSpace(value)
	if _, ok := pl.connector.Config.Server(name); !ok {
		pl.markRejected(value)
		return "", errors.New(ErrLoginUnknownServer.Error() + ": choose one of " +
			strings.Join(pl.connector.Config.ServerNames(), ", ") + " (your message was removed)")
	}
	return name, nil
}

func (pl *PasswordLogin) markRejected(value string) {
	if pl.user != nil {
		pl.connector.rejected.mark(pl.user.MXID, value)
	}
}

// retryStep asks for the credentials again after the server refused them.
func (pl *PasswordLogin) retryStep(email string) *bridgev2.LoginStep {
	step := pl.credentialsStep(email)
	step.Instructions = retryInstructions
	return step
}
