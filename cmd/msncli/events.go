package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/mautrix-msn/mautrix-msn/msnclient"
)

// jsonEvent is the one-line JSON form of a client event printed by listen.
type jsonEvent struct {
	Type         string      `json:"type"`
	Email        string      `json:"email,omitempty"`
	From         string      `json:"from,omitempty"`
	Name         string      `json:"name,omitempty"`
	FromSelf     bool        `json:"from_self,omitempty"`
	Status       string      `json:"status,omitempty"`
	Text         string      `json:"text,omitempty"`
	Format       *jsonFormat `json:"format,omitempty"`
	Media        string      `json:"media,omitempty"`
	ID           int         `json:"id,omitempty"`
	ContentType  string      `json:"content_type,omitempty"`
	Participants []string    `json:"participants,omitempty"`
	Version      int         `json:"version,omitempty"`
	Reason       string      `json:"reason,omitempty"`
	Count        int         `json:"count,omitempty"`
	Error        string      `json:"error,omitempty"`
	Time         string      `json:"time"`
}

type jsonFormat struct {
	Font        string `json:"font,omitempty"`
	Color       string `json:"color"`
	Bold        bool   `json:"bold,omitempty"`
	Italic      bool   `json:"italic,omitempty"`
	Underline   bool   `json:"underline,omitempty"`
	Strike      bool   `json:"strike,omitempty"`
	RightToLeft bool   `json:"rtl,omitempty"`
}

var reasonNames = map[msnclient.DisconnectReason]string{
	msnclient.ReasonConnectionLost: "connection_lost",
	msnclient.ReasonOtherLogin:     "other_login",
	msnclient.ReasonServerShutdown: "server_shutdown",
	msnclient.ReasonClosed:         "closed",
}

// toJSONEvent converts a client event; unknown event types keep their Go name.
func toJSONEvent(evt any) jsonEvent {
	e := jsonEvent{Time: time.Now().UTC().Format(time.RFC3339Nano)}
	switch v := evt.(type) {
	case *msnclient.Connected:
		e.Type, e.Version = "connected", v.Version
	case *msnclient.Disconnected:
		e.Type, e.Reason = "disconnected", reasonNames[v.Reason]
		if v.Err != nil {
			e.Error = v.Err.Error()
		}
	case *msnclient.ContactPresence:
		e.Type, e.Email, e.Status, e.Name = "presence", v.Email, string(v.Status), v.FriendlyName
	case *msnclient.PersonalMessage:
		e.Type, e.Email, e.Text, e.Media = "personal_message", v.Email, v.Message, v.CurrentMedia
	case *msnclient.ContactListChanged:
		e.Type = "contact_list_changed"
	case *msnclient.ContactRequest:
		e.Type, e.Email, e.Name, e.Text = "contact_request", v.Email, v.FriendlyName, v.Message
	case *msnclient.OwnProfile:
		e.Type, e.Name, e.Text = "own_profile", v.FriendlyName, v.PersonalMessage
	case *msnclient.MessageReceived:
		e.Type, e.From, e.Name, e.FromSelf, e.Text = "message", v.From, v.FromName, v.FromSelf, v.Message.Text
		e.Participants = v.Participants
		f := v.Message.Format
		e.Format = &jsonFormat{Font: f.Font, Color: fmt.Sprintf("#%06x", f.Color), Bold: f.Bold, Italic: f.Italic,
			Underline: f.Underline, Strike: f.Strike, RightToLeft: f.RightToLeft}
	case *msnclient.Typing:
		e.Type, e.From, e.Participants = "typing", v.From, v.Participants
	case *msnclient.Nudge:
		e.Type, e.From, e.FromSelf, e.Participants = "nudge", v.From, v.FromSelf, v.Participants
	case *msnclient.Datacast:
		e.Type, e.From, e.ID, e.Participants = "datacast", v.From, v.ID, v.Participants
	case *msnclient.Ink:
		e.Type, e.From, e.ContentType, e.Count, e.Participants = "ink", v.From, v.ContentType, len(v.Data), v.Participants
		if v.Err != nil {
			e.Error = v.Err.Error()
		}
	case *msnclient.UnknownMessage:
		e.Type, e.From, e.ContentType, e.Participants = "unknown_message", v.From, v.ContentType, v.Participants
	case *msnclient.ParticipantJoined:
		e.Type, e.Email, e.Name, e.Participants = "join", v.Email, v.FriendlyName, v.Participants
	case *msnclient.ParticipantLeft:
		e.Type, e.Email, e.Participants = "leave", v.Email, v.Participants
	case *msnclient.ConversationClosed:
		e.Type, e.Participants = "conversation_closed", v.Participants
	case *msnclient.OfflineMessagesWaiting:
		e.Type, e.Count = "offline_messages", len(v.Messages)
		if !v.Complete {
			e.Reason = "incomplete_list"
		}
	default:
		e.Type = fmt.Sprintf("other:%T", evt)
	}
	return e
}

// jsonPrinter writes one JSON object per line, safe for concurrent use.
type jsonPrinter struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONPrinter(w io.Writer) *jsonPrinter {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &jsonPrinter{enc: enc}
}

func (p *jsonPrinter) print(evt any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = p.enc.Encode(toJSONEvent(evt))
}
