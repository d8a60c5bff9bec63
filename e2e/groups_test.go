package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
	"github.com/mautrix-msn/mautrix-msn/msnclient/msntest"
)

// testContactGroups: MSN contact groups are child spaces of the login's
// space with the group's contacts as members and their DMs as rooms; they
// follow the bot's group commands and changes made by another MSN client.
func (w *world) testContactGroups(t *testing.T) {
	// Another client (the web, WLM elsewhere) made a group while the
	// bridge was online; servers do not announce group changes, and the
	// groups command re-reads the address book.
	if _, err := w.srv.AddGroup(meEmail, "Friends"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{bobEmail, carolEmail} {
		if err := w.srv.SetContactGroups(meEmail, c, "Friends"); err != nil {
			t.Fatal(err)
		}
	}
	w.expectAnswer(t, "groups", "Friends (2): "+bobEmail+", "+carolEmail)
	friends := w.waitGroupSpace(t, "Friends", []string{bobEmail, carolEmail})
	// bob's DM portal (from the earlier scenarios) is a room of the space.
	if w.bobRoom != "" {
		w.waitSpaceChild(t, friends, w.bobRoom, true)
	}

	t.Run("Commands", func(t *testing.T) {
		w.expectAnswer(t, "add-group Work", `Created the MSN group "Work".`)
		w.expectAnswer(t, "add-group work", "already exists")
		w.expectAnswer(t, "add-group (No Group)", "group names must be")
		w.expectAnswer(t, "copy-contact "+daveEmail+" Work", "Added "+daveEmail+` to the MSN group "Work" too.`)
		w.expectAnswer(t, "move-contact "+bobEmail+" work", "Moved "+bobEmail+` to the MSN group "Work".`)
		w.expectAnswer(t, "copy-contact nobody@msn.test Work", "not on your contact list")
		w.expectAnswer(t, "move-contact "+bobEmail+" Nowhere", `You have no MSN group named "Nowhere"`)
		work := w.waitGroupSpace(t, "Work", []string{bobEmail, daveEmail})
		w.waitGroupSpace(t, "Friends", []string{carolEmail})
		if w.bobRoom != "" {
			w.waitSpaceChild(t, work, w.bobRoom, true)
			w.waitSpaceChild(t, friends, w.bobRoom, false)
		}
		if got := w.srv.Groups(meEmail); !slices.Equal(got["Work"], []string{bobEmail, daveEmail}) || !slices.Equal(got["Friends"], []string{carolEmail}) {
			t.Errorf("server groups are %v", got)
		}
		w.expectAnswer(t, `rename-group Work "Day job"`, `Renamed the MSN group "Work" to "Day job".`)
		w.waitGroupSpace(t, "Day job", []string{bobEmail, daveEmail})
		w.expectAnswer(t, `remove-group "Day job"`, `Removed the MSN group "Day job"`)
		w.waitNoGroupSpace(t, work)
		if _, ok := w.srv.Groups(meEmail)["Day job"]; ok {
			t.Error("the server still has the removed group")
		}
	})

	t.Run("RenameFromAnotherClient", func(t *testing.T) {
		// WLM on another computer (MPOP) renames the group.
		other := connectPeer(w.ctx, t, w.srv, meEmail, mePassword, "Matrix Me")
		g, ok := other.GroupByName("Friends")
		if !ok {
			t.Fatal("the other client does not see the Friends group")
		}
		if err := other.RenameGroup(w.ctx, g.ID, "Best friends"); err != nil {
			t.Fatal(err)
		}
		_ = other.Close()
		// No command: the periodic address-book refresh picks it up.
		if got := w.waitGroupSpace(t, "Best friends", []string{carolEmail}); got != friends {
			t.Errorf("the rename made a new space %s instead of renaming %s", got, friends)
		}
	})
}

// groupSpaces returns the child spaces of the login's space by name.
func (w *world) groupSpaces() (map[string]id.RoomID, error) {
	space, err := w.spaceRoom()
	if err != nil {
		return nil, err
	}
	state, err := w.user.State(w.ctx, space)
	if err != nil {
		return nil, fmt.Errorf("state of space %s: %w", space, err)
	}
	out := make(map[string]id.RoomID)
	for key, evt := range state[event.StateSpaceChild] {
		if len(evt.Content.AsSpaceChild().Via) == 0 {
			continue // removed
		}
		child := id.RoomID(key)
		var create event.CreateEventContent
		if err := w.user.StateEvent(w.ctx, child, event.StateCreate, "", &create); err != nil || create.Type != event.RoomTypeSpace {
			continue // a portal, or not joined yet
		}
		var name event.RoomNameEventContent
		if err := w.user.StateEvent(w.ctx, child, event.StateRoomName, "", &name); err != nil {
			return nil, fmt.Errorf("name of %s: %w", child, err)
		}
		out[name.Name] = child
	}
	return out, nil
}

// waitGroupSpace waits until the login's space has a child space called
// name whose joined ghosts are exactly those of emails, and returns it.
func (w *world) waitGroupSpace(t *testing.T, name string, emails []string) id.RoomID {
	t.Helper()
	return w.waitGroupSpaceWithin(t, name, emails, msgTimeout)
}

// waitGroupSpaceWithin is waitGroupSpace with a timeout.
func (w *world) waitGroupSpaceWithin(t *testing.T, name string, emails []string, timeout time.Duration) id.RoomID {
	t.Helper()
	var room id.RoomID
	err := eventually(w.ctx, timeout, func() error {
		spaces, err := w.groupSpaces()
		if err != nil {
			return err
		}
		room = spaces[name]
		if room == "" {
			return fmt.Errorf("no group space %q among %v", name, spaces)
		}
		members, err := w.user.JoinedMembers(w.ctx, room)
		if err != nil {
			return err
		}
		var ghosts []string
		for user := range members.Joined {
			if user != w.bot && user != w.user.UserID {
				ghosts = append(ghosts, user.String())
			}
		}
		var want []string
		for _, e := range emails {
			want = append(want, w.br.GhostMXID(e).String())
		}
		slices.Sort(ghosts)
		slices.Sort(want)
		if !slices.Equal(ghosts, want) {
			return fmt.Errorf("group space %q has ghosts %v, want %v", name, ghosts, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return room
}

// waitNoGroupSpace waits until room is no child of the login's space.
func (w *world) waitNoGroupSpace(t *testing.T, room id.RoomID) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		spaces, err := w.groupSpaces()
		if err != nil {
			return err
		}
		for name, r := range spaces {
			if r == room {
				return fmt.Errorf("space %s (%q) is still a group space", room, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitSpaceChild waits until child is (or is not) a room of space.
func (w *world) waitSpaceChild(t *testing.T, space, child id.RoomID, want bool) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		var content event.SpaceChildEventContent
		err := w.user.StateEvent(w.ctx, space, event.StateSpaceChild, child.String(), &content)
		has := err == nil && len(content.Via) > 0
		if has != want {
			return fmt.Errorf("room %s in space %s: %v, want %v", child, space, has, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestContactGroupsSYN: the same child spaces on a SYN/LST dialect
// (MSNP8: numeric group ids, the implicit group 0), where the server holds
// the list and changes made elsewhere are seen at the next sign-in.
func TestContactGroupsSYN(t *testing.T) {
	e := newEnvEdits(t, stack.SQLite(), func(srv *msntest.Server) map[string]any {
		servers := stack.NetworkEdits(srv)["network.servers"].([]any)
		server := servers[0].(map[string]any)
		server["protocol_versions"] = []any{8}
		return map[string]any{"network.servers": servers}
	})
	w := &world{env: e}
	for _, a := range [][2]string{{meEmail, mePassword}, {bobEmail, peerPass}, {carolEmail, peerPass}} {
		if err := e.srv.AddAccount(a[0], a[1], strings.Split(a[0], "@")[0]); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []string{bobEmail, carolEmail} {
		if err := e.srv.AddContact(meEmail, c, mutual); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range []string{"Friends", "Work"} {
		if _, err := e.srv.AddGroup(meEmail, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.srv.SetContactGroups(meEmail, bobEmail, "Friends", "Work"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.SetContactGroups(meEmail, carolEmail, "Work"); err != nil {
		t.Fatal(err)
	}
	w.mustLogin(t)
	w.waitGroupSpace(t, "Friends", []string{bobEmail})
	work := w.waitGroupSpace(t, "Work", []string{bobEmail, carolEmail})
	w.expectAnswer(t, "groups", "Work (2): "+bobEmail+", "+carolEmail)

	w.expectAnswer(t, "move-contact "+carolEmail+" Friends", "Moved "+carolEmail)
	w.waitGroupSpace(t, "Friends", []string{bobEmail, carolEmail})
	w.waitGroupSpace(t, "Work", []string{bobEmail})
	w.expectAnswer(t, "rename-group Work Office", `Renamed the MSN group "Work" to "Office".`)
	if got := w.waitGroupSpace(t, "Office", []string{bobEmail}); got != work {
		t.Errorf("rename made space %s, want %s renamed", got, work)
	}
	if got := e.srv.Groups(meEmail); !slices.Equal(got["Office"], []string{bobEmail}) || !slices.Equal(got["Friends"], []string{bobEmail, carolEmail}) {
		t.Errorf("server groups are %v", got)
	}

	// Another client renames a group while the bridge is signed out; the
	// next sign-in (SYN) brings it.
	if err := e.srv.RenameGroup(meEmail, "Office", "Day job"); err != nil {
		t.Fatal(err)
	}
	w.expectAnswer(t, "reconnect", "Reconnecting")
	dayJob := w.waitGroupSpace(t, "Day job", []string{bobEmail})
	w.expectAnswer(t, "remove-group Friends", `Removed the MSN group "Friends"`)
	spaces, err := w.groupSpaces()
	if err != nil {
		t.Fatal(err)
	}
	err = eventually(w.ctx, msgTimeout, func() error {
		if spaces, err = w.groupSpaces(); err != nil {
			return err
		}
		if _, ok := spaces["Friends"]; ok {
			return fmt.Errorf("the Friends space is still there: %v", spaces)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// The config switch turns the group spaces off (they are removed) and
	// on again (made anew).
	w.restartWith(t, map[string]any{"network.contact_groups.spaces": false})
	w.waitLeft(t, dayJob, "group spaces turned off")
	w.restartWith(t, map[string]any{"network.contact_groups.spaces": true})
	dayJob = w.waitGroupSpace(t, "Day job", []string{bobEmail})

	// Logging out removes the group spaces with the login.
	w.expectAnswer(t, "logout "+meEmail, "Logged out")
	w.waitLeft(t, dayJob, "logout")
}

// restartWith restarts the bridge with config edits and waits for the
// login to be back on MSN.
func (w *world) restartWith(t *testing.T, edits map[string]any) {
	t.Helper()
	if err := w.br.Stop(); err != nil {
		t.Fatalf("stop bridge: %v", err)
	}
	if err := stack.EditYAML(w.br.ConfigPath, edits); err != nil {
		t.Fatal(err)
	}
	err := eventually(w.ctx, msgTimeout, func() error {
		if w.srv.IsOnline(meEmail) {
			return fmt.Errorf("MSN session still online after the bridge stopped")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(w.ctx, setupTimeout)
	defer cancel()
	if err := w.br.Start(ctx); err != nil {
		t.Fatalf("restart bridge: %v", err)
	}
	if err := w.srv.WaitOnline(ctx, meEmail); err != nil {
		t.Fatalf("login did not resume after restart: %v", err)
	}
}

// waitLeft waits until the user is no longer in room.
func (w *world) waitLeft(t *testing.T, room id.RoomID, after string) {
	t.Helper()
	err := eventually(w.ctx, msgTimeout, func() error {
		rooms, err := w.joinedRooms()
		if err != nil {
			return err
		}
		if rooms[room] {
			return fmt.Errorf("still in the group space %s after %s", room, after)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
