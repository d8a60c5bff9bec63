// Package sinkhs is a minimal Matrix homeserver for the load harness: it
// answers the client-server calls an appservice bridge makes (as the bot
// and as masqueraded ghosts) with plausible responses, keeps just enough
// room state for the bridge to work, and records what it received. It can
// also push transactions to the appservice, as a real homeserver does for
// the Matrix users' messages.
//
// It is a measurement tool: it does no federation, no auth beyond the
// appservice token, no event graph, and never stands in for a homeserver
// in product tests.
package sinkhs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"
)

// Options configures a Server.
type Options struct {
	ServerName string // e.g. "localhost"
	ASToken    string // token the bridge sends
	HSToken    string // token we send to the bridge
	ASURL      string // the bridge's appservice address
	BotMXID    id.UserID
	// Listen is the loopback host:port; "" picks a free port.
	Listen string
	// KeepBodies records the body of every m.room.message (for the exact
	// delivery checks of small runs); big runs only count.
	KeepBodies bool
}

// Server is a running sink homeserver. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	ln     net.Listener
	srv    *http.Server
	client *http.Client
	url    string

	seq   atomic.Int64
	txnID atomic.Int64

	mu        sync.Mutex
	rooms     map[id.RoomID]*Room
	profiles  map[id.UserID]map[string]string
	endpoints map[string]int64
	messages  Timeline
	presence  Timeline
	presByUsr map[id.UserID]int64
	bodies    map[string]int
	failures  []string
	onMessage func(room id.RoomID, sender id.UserID, body string)
}

// Room is what the sink knows of a room.
type Room struct {
	ID       id.RoomID
	Creator  id.UserID
	IsDirect bool
	IsSpace  bool
	Joined   map[id.UserID]bool
	Invited  map[id.UserID]bool
	Messages int64
	State    map[string]map[string]any // "type\x00state_key" -> content
}

// Start listens on loopback and serves until Close.
func Start(opts Options) (*Server, error) {
	listen := opts.Listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("sink homeserver listen address %q: %w", listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("sink homeserver listen address %q is not loopback", listen)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("sink homeserver listen: %w", err)
	}
	s := &Server{
		opts:      opts,
		ln:        ln,
		url:       "http://" + ln.Addr().String(),
		rooms:     make(map[id.RoomID]*Room),
		profiles:  make(map[id.UserID]map[string]string),
		endpoints: make(map[string]int64),
		presByUsr: make(map[id.UserID]int64),
		bodies:    make(map[string]int),
		client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
		}},
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	return s, nil
}

// URL is the homeserver base URL.
func (s *Server) URL() string { return s.url }

// Close stops serving.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// OnMessage sets a callback run for every m.room.message the bridge sends.
func (s *Server) OnMessage(fn func(room id.RoomID, sender id.UserID, body string)) {
	s.mu.Lock()
	s.onMessage = fn
	s.mu.Unlock()
}

type errResp struct {
	ErrCode string `json:"errcode"`
	Error   string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func notFound(w http.ResponseWriter, what string) {
	writeJSON(w, http.StatusNotFound, errResp{"M_NOT_FOUND", what + " not found"})
}

// serve routes a request. Paths are split after the API version, so
// /_matrix/client/v3/rooms/!r/send/... becomes [rooms !r send ...].
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_matrix/client/versions" {
		s.count("versions")
		writeJSON(w, http.StatusOK, map[string]any{
			"versions":          []string{"v1.4", "v1.5", "v1.6"},
			"unstable_features": map[string]bool{},
		})
		return
	}
	if strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ") != s.opts.ASToken {
		writeJSON(w, http.StatusUnauthorized, errResp{"M_UNKNOWN_TOKEN", "unknown token"})
		return
	}
	user := id.UserID(r.URL.Query().Get("user_id"))
	if user == "" {
		user = s.opts.BotMXID
	}
	parts := splitPath(r.URL.EscapedPath())
	if len(parts) < 3 || parts[0] != "_matrix" {
		s.count("unknown")
		notFound(w, "endpoint")
		return
	}
	api, rest := parts[1], parts[3:]
	if api == "media" {
		s.serveMedia(w, r, rest)
		return
	}
	if api != "client" || len(rest) == 0 {
		s.count("unknown")
		notFound(w, "endpoint")
		return
	}
	var body map[string]any
	if r.Body != nil && (r.Method == http.MethodPost || r.Method == http.MethodPut) {
		data, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errResp{"M_BAD_JSON", err.Error()})
			return
		}
		if len(data) > 0 {
			if err := json.Unmarshal(data, &body); err != nil {
				writeJSON(w, http.StatusBadRequest, errResp{"M_NOT_JSON", err.Error()})
				return
			}
		}
	}
	switch rest[0] {
	case "account":
		s.count("whoami")
		writeJSON(w, http.StatusOK, map[string]any{"user_id": user, "device_id": "SINK"})
	case "register":
		s.count("register")
		name, _ := body["username"].(string)
		writeJSON(w, http.StatusOK, map[string]any{"user_id": id.NewUserID(name, s.opts.ServerName)})
	case "profile":
		s.serveProfile(w, r, rest[1:], body)
	case "presence":
		s.recordPresence(user)
		writeJSON(w, http.StatusOK, map[string]any{})
	case "createRoom":
		s.serveCreateRoom(w, user, body)
	case "join":
		if len(rest) > 1 {
			s.serveMembership(w, user, id.RoomID(unescape(rest[1])), "join", body)
			return
		}
		notFound(w, "room")
	case "rooms":
		if len(rest) < 3 {
			notFound(w, "endpoint")
			return
		}
		s.serveRoom(w, r, user, id.RoomID(unescape(rest[1])), rest[2:], body)
	case "joined_rooms":
		s.count("joined_rooms")
		writeJSON(w, http.StatusOK, map[string]any{"joined_rooms": s.joinedRooms(user)})
	case "user":
		// account data, tags, filters
		s.count("user")
		if r.Method == http.MethodGet {
			notFound(w, "account data")
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"filter_id": "1"})
	default:
		s.count("other:" + rest[0])
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

func splitPath(p string) []string {
	return strings.Split(strings.Trim(p, "/"), "/")
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

func (s *Server) count(endpoint string) {
	s.mu.Lock()
	s.endpoints[endpoint]++
	s.mu.Unlock()
}

func (s *Server) serveMedia(w http.ResponseWriter, r *http.Request, rest []string) {
	s.count("media")
	if len(rest) > 0 && rest[0] == "config" {
		writeJSON(w, http.StatusOK, map[string]any{"m.upload.size": 50 << 20})
		return
	}
	if len(rest) > 0 && rest[0] == "upload" {
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 64<<20))
		writeJSON(w, http.StatusOK, map[string]any{"content_uri": fmt.Sprintf("mxc://%s/m%d", s.opts.ServerName, s.seq.Add(1))})
		return
	}
	notFound(w, "media")
}

func (s *Server) serveProfile(w http.ResponseWriter, r *http.Request, rest []string, body map[string]any) {
	s.count("profile")
	if len(rest) == 0 {
		notFound(w, "profile")
		return
	}
	target := id.UserID(unescape(rest[0]))
	s.mu.Lock()
	defer s.mu.Unlock()
	prof := s.profiles[target]
	if r.Method == http.MethodPut && len(rest) > 1 {
		if prof == nil {
			prof = map[string]string{}
			s.profiles[target] = prof
		}
		for k, v := range body {
			if str, ok := v.(string); ok {
				prof[k] = str
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	if prof == nil {
		notFound(w, "profile")
		return
	}
	if len(rest) > 1 {
		v, ok := prof[rest[1]]
		if !ok {
			notFound(w, "profile field")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{rest[1]: v})
		return
	}
	writeJSON(w, http.StatusOK, prof)
}

func (s *Server) serveCreateRoom(w http.ResponseWriter, user id.UserID, body map[string]any) {
	s.count("createRoom")
	room := &Room{
		ID:      id.RoomID(fmt.Sprintf("!r%d:%s", s.seq.Add(1), s.opts.ServerName)),
		Creator: user,
		Joined:  map[id.UserID]bool{user: true},
		Invited: map[id.UserID]bool{},
		State:   map[string]map[string]any{},
	}
	room.IsDirect, _ = body["is_direct"].(bool)
	if cc, ok := body["creation_content"].(map[string]any); ok {
		room.IsSpace = cc["type"] == "m.space"
	}
	pl := map[string]any{"users": map[string]any{string(user): 100}, "users_default": 0, "events_default": 0, "state_default": 50}
	if override, ok := body["power_level_content_override"].(map[string]any); ok {
		for k, v := range override {
			pl[k] = v
		}
	}
	room.State[stateKey(event.StatePowerLevels.Type, "")] = pl
	create := map[string]any{"creator": string(user), "room_version": "11"}
	if v, ok := body["room_version"].(string); ok && v != "" {
		create["room_version"] = v
	}
	if cc, ok := body["creation_content"].(map[string]any); ok {
		for k, v := range cc {
			create[k] = v
		}
	}
	room.State[stateKey(event.StateCreate.Type, "")] = create
	joinRule := "invite"
	if preset, _ := body["preset"].(string); preset == "public_chat" {
		joinRule = "public"
	}
	room.State[stateKey(event.StateJoinRules.Type, "")] = map[string]any{"join_rule": joinRule}
	if initial, ok := body["initial_state"].([]any); ok {
		for _, raw := range initial {
			if evt, ok := raw.(map[string]any); ok {
				typ, _ := evt["type"].(string)
				key, _ := evt["state_key"].(string)
				if content, ok := evt["content"].(map[string]any); ok {
					room.State[stateKey(typ, key)] = content
				}
			}
		}
	}
	if invites, ok := body["invite"].([]any); ok {
		for _, inv := range invites {
			if str, ok := inv.(string); ok {
				room.Invited[id.UserID(str)] = true
			}
		}
	}
	s.mu.Lock()
	s.rooms[room.ID] = room
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"room_id": room.ID})
}

func (s *Server) serveMembership(w http.ResponseWriter, user id.UserID, roomID id.RoomID, action string, body map[string]any) {
	s.count(action)
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[roomID]
	if room == nil {
		writeJSON(w, http.StatusForbidden, errResp{"M_FORBIDDEN", "no such room"})
		return
	}
	target := user
	if t, ok := body["user_id"].(string); ok && action != "join" {
		target = id.UserID(t)
	}
	switch action {
	case "join":
		room.Joined[target] = true
		delete(room.Invited, target)
	case "invite":
		if !room.Joined[target] {
			room.Invited[target] = true
		}
	case "leave", "kick", "ban":
		delete(room.Joined, target)
		delete(room.Invited, target)
	}
	writeJSON(w, http.StatusOK, map[string]any{"room_id": roomID})
}

func (s *Server) serveRoom(w http.ResponseWriter, r *http.Request, user id.UserID, roomID id.RoomID, rest []string, body map[string]any) {
	switch rest[0] {
	case "join", "invite", "leave", "kick", "ban", "unban":
		s.serveMembership(w, user, roomID, rest[0], body)
	case "send":
		if len(rest) < 2 {
			notFound(w, "endpoint")
			return
		}
		s.count("send:" + rest[1])
		switch rest[1] {
		case event.EventMessage.Type:
			text, _ := body["body"].(string)
			if mt, _ := body["msgtype"].(string); mt == string(event.MsgNotice) && user == s.opts.BotMXID {
				// The bridge bot's error notices are not bridged messages.
				s.recordFailure("notice: " + text)
				break
			}
			s.recordMessage(roomID, user, text)
		case event.BeeperMessageStatus.Type:
			if st, _ := body["status"].(string); st != "SUCCESS" {
				reason, _ := body["reason"].(string)
				msg, _ := body["message"].(string)
				s.recordFailure(fmt.Sprintf("status %s %s: %s", st, reason, msg))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"event_id": s.newEventID()})
	case "state":
		s.count("state")
		key := ""
		if len(rest) > 2 {
			key = unescape(rest[2])
		}
		if r.Method == http.MethodPut && len(rest) > 1 {
			if rest[1] == event.StateMember.Type {
				if m, _ := body["membership"].(string); m != "" {
					s.applyMemberState(roomID, id.UserID(key), m)
				}
			}
			s.setState(roomID, rest[1], key, body)
			writeJSON(w, http.StatusOK, map[string]any{"event_id": s.newEventID()})
			return
		}
		if len(rest) == 1 {
			writeJSON(w, http.StatusOK, []any{})
			return
		}
		if content := s.getState(roomID, rest[1], key); content != nil {
			writeJSON(w, http.StatusOK, content)
			return
		}
		notFound(w, "state event")
	case "joined_members":
		s.count("joined_members")
		s.mu.Lock()
		joined := map[id.UserID]any{}
		if room := s.rooms[roomID]; room != nil {
			for u := range room.Joined {
				joined[u] = map[string]any{}
			}
		}
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"joined": joined})
	case "members":
		s.count("members")
		writeJSON(w, http.StatusOK, map[string]any{"chunk": s.memberEvents(roomID)})
	case "redact":
		s.count("redact")
		writeJSON(w, http.StatusOK, map[string]any{"event_id": s.newEventID()})
	default:
		// receipts, typing, read markers, tags
		s.count("room:" + rest[0])
		writeJSON(w, http.StatusOK, map[string]any{})
	}
}

func stateKey(typ, key string) string { return typ + "\x00" + key }

func (s *Server) setState(roomID id.RoomID, typ, key string, content map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := s.rooms[roomID]; room != nil {
		room.State[stateKey(typ, key)] = content
	}
}

func (s *Server) getState(roomID id.RoomID, typ, key string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if room := s.rooms[roomID]; room != nil {
		return room.State[stateKey(typ, key)]
	}
	return nil
}

func (s *Server) applyMemberState(roomID id.RoomID, target id.UserID, membership string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[roomID]
	if room == nil {
		return
	}
	switch membership {
	case "join":
		room.Joined[target] = true
		delete(room.Invited, target)
	case "invite":
		room.Invited[target] = true
	default:
		delete(room.Joined, target)
		delete(room.Invited, target)
	}
}

func (s *Server) memberEvents(roomID id.RoomID) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[roomID]
	if room == nil {
		return []map[string]any{}
	}
	var out []map[string]any
	add := func(u id.UserID, m string) {
		out = append(out, map[string]any{
			"type": event.StateMember.Type, "state_key": u, "sender": u, "room_id": roomID,
			"event_id": fmt.Sprintf("$m%d", s.seq.Add(1)), "content": map[string]any{"membership": m},
		})
	}
	for u := range room.Joined {
		add(u, "join")
	}
	for u := range room.Invited {
		add(u, "invite")
	}
	return out
}

func (s *Server) joinedRooms(user id.UserID) []id.RoomID {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []id.RoomID{}
	for _, room := range s.rooms {
		if room.Joined[user] {
			out = append(out, room.ID)
		}
	}
	return out
}

func (s *Server) newEventID() string {
	return fmt.Sprintf("$e%d:%s", s.seq.Add(1), s.opts.ServerName)
}

func (s *Server) recordMessage(roomID id.RoomID, sender id.UserID, body string) {
	now := time.Now()
	s.mu.Lock()
	s.messages.add(now)
	if room := s.rooms[roomID]; room != nil {
		room.Messages++
	}
	if s.opts.KeepBodies {
		s.bodies[body]++
	}
	fn := s.onMessage
	s.mu.Unlock()
	if fn != nil {
		fn(roomID, sender, body)
	}
}

func (s *Server) recordFailure(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.failures) < 100 {
		s.failures = append(s.failures, what)
	}
}

// Failures lists (the first 100) failed message statuses and error
// notices the bridge sent.
func (s *Server) Failures() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.failures...)
}

func (s *Server) recordPresence(user id.UserID) {
	now := time.Now()
	s.mu.Lock()
	s.presence.add(now)
	s.presByUsr[user]++
	s.mu.Unlock()
}

// Stats is a snapshot of what the sink received.
type Stats struct {
	Endpoints map[string]int64 `json:"endpoints"`
	Messages  int64            `json:"messages"`
	Presence  int64            `json:"presence"`
	Rooms     int              `json:"rooms"`
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := make(map[string]int64, len(s.endpoints))
	for k, v := range s.endpoints {
		eps[k] = v
	}
	return Stats{Endpoints: eps, Messages: s.messages.total, Presence: s.presence.total, Rooms: len(s.rooms)}
}

// MessageTimeline returns a copy of the per-second message arrival counts.
func (s *Server) MessageTimeline() Timeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.messages.clone()
}

// PresenceTimeline returns a copy of the per-second presence request counts.
func (s *Server) PresenceTimeline() Timeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.presence.clone()
}

// PresenceByUser returns presence requests per ghost so far.
func (s *Server) PresenceByUser() map[id.UserID]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[id.UserID]int64, len(s.presByUsr))
	for k, v := range s.presByUsr {
		out[k] = v
	}
	return out
}

// BodyCount is how many messages with exactly this body arrived (only
// with Options.KeepBodies).
func (s *Server) BodyCount(body string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[body]
}

// FindRoom returns a room (not a space) in which both users are members
// (joined or invited), or "" if none.
func (s *Server) FindRoom(a, b id.UserID) id.RoomID {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, room := range s.rooms {
		if !room.IsSpace && (room.Joined[a] || room.Invited[a]) && (room.Joined[b] || room.Invited[b]) {
			return room.ID
		}
	}
	return ""
}

// RoomMessages is how many m.room.message events the bridge sent to room.
func (s *Server) RoomMessages(room id.RoomID) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[room]; r != nil {
		return r.Messages
	}
	return 0
}

// Event is an event pushed to the bridge in a transaction.
type Event struct {
	Type    string         `json:"type"`
	RoomID  id.RoomID      `json:"room_id"`
	Sender  id.UserID      `json:"sender"`
	EventID string         `json:"event_id"`
	TS      int64          `json:"origin_server_ts"`
	Content map[string]any `json:"content"`
}

// TextEvent builds an m.text message from sender in room.
func (s *Server) TextEvent(room id.RoomID, sender id.UserID, body string) Event {
	return Event{
		Type:    event.EventMessage.Type,
		RoomID:  room,
		Sender:  sender,
		EventID: s.newEventID(),
		TS:      time.Now().UnixMilli(),
		Content: map[string]any{"msgtype": "m.text", "body": body},
	}
}

// Push sends one transaction of events to the appservice and waits for
// its acknowledgement, as a homeserver does.
func (s *Server) Push(ctx context.Context, events []Event) error {
	data, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		return fmt.Errorf("encode transaction: %w", err)
	}
	txn := s.txnID.Add(1)
	u := fmt.Sprintf("%s/_matrix/app/v1/transactions/%d", strings.TrimSuffix(s.opts.ASURL, "/"), txn)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, u, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("build transaction request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+s.opts.HSToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("push transaction %d: %w", txn, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("push transaction %d: %w: HTTP %d", txn, errRejected, resp.StatusCode)
	}
	return nil
}

var errRejected = errors.New("appservice rejected the transaction")
