package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"maunium.net/go/mautrix/event"
	"maunium.net/go/mautrix/id"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// TestGroupSpacesFigure measures the time from a successful login to all
// contact group spaces and circle rooms in place (10 groups of 20
// contacts: every space created, named and holding its 20 ghosts; 10
// MSNP18 circles, circle i with the 20 contacts of group i: every room
// created, named after the circle, in the login's space and holding its 20
// ghosts), median of 3 fresh stacks. It takes minutes, so it runs only
// when MSN_E2E_GROUP_FIGURES is set:
//
//	MSN_E2E_GROUP_FIGURES=1 MSN_E2E_FIGURES=figures.txt go test -tags goolm -v -run TestGroupSpacesFigure ./e2e/
func TestGroupSpacesFigure(t *testing.T) {
	if os.Getenv("MSN_E2E_GROUP_FIGURES") == "" {
		t.Skip("set MSN_E2E_GROUP_FIGURES=1 to measure (takes minutes)")
	}
	const groups, perGroup, runs = 10, 20, 3
	var took, tookCircles []time.Duration
	for run := range runs {
		t.Run(fmt.Sprintf("run%d", run+1), func(t *testing.T) {
			e := newEnv(t, stack.SQLite())
			w := &world{env: e}
			if err := e.srv.AddAccount(meEmail, mePassword, "Matrix Me"); err != nil {
				t.Fatal(err)
			}
			want := make(map[string][]string, groups)
			circles := make(map[string][]string, groups)
			for g := range groups {
				name := fmt.Sprintf("Group %02d", g+1)
				if _, err := e.srv.AddGroup(meEmail, name); err != nil {
					t.Fatal(err)
				}
				circle := fmt.Sprintf("Circle %02d", g+1)
				circleID, err := e.srv.CreateCircle(circle, meEmail)
				if err != nil {
					t.Fatal(err)
				}
				for c := range perGroup {
					email := fmt.Sprintf("c%02d-%02d@msn.test", g+1, c+1)
					if err := e.srv.AddAccount(email, peerPass, fmt.Sprintf("Contact %d.%d", g+1, c+1)); err != nil {
						t.Fatal(err)
					}
					if err := e.srv.AddContact(meEmail, email, mutual); err != nil {
						t.Fatal(err)
					}
					if err := e.srv.SetContactGroups(meEmail, email, name); err != nil {
						t.Fatal(err)
					}
					want[name] = append(want[name], email)
					if err := e.srv.AddCircleMember(circleID, email, "Member"); err != nil {
						t.Fatal(err)
					}
					circles[circle] = append(circles[circle], email)
				}
			}
			w.mustLogin(t)
			start := time.Now()
			for name, emails := range circles {
				w.waitCircleRoomWithin(t, name, emails, 5*time.Minute)
			}
			circlesDone := time.Since(start)
			for name, emails := range want {
				w.waitGroupSpaceWithin(t, name, emails, 5*time.Minute)
			}
			d := time.Since(start)
			t.Logf("run %d: %s (circle rooms: %s)", run+1, d.Round(time.Millisecond), circlesDone.Round(time.Millisecond))
			took = append(took, d)
			tookCircles = append(tookCircles, circlesDone)
		})
	}
	if len(took) != runs {
		t.Fatalf("only %d of %d runs finished", len(took), runs)
	}
	slices.Sort(took)
	slices.Sort(tookCircles)
	recordFigure(t, "circles_and_group_spaces_10x20_after_login_median", took[runs/2].Round(time.Millisecond).String())
	recordFigure(t, "circles_and_group_spaces_10x20_after_login_min_max", fmt.Sprintf("%s..%s", took[0].Round(time.Millisecond), took[runs-1].Round(time.Millisecond)))
	recordFigure(t, "circle_rooms_10x20_after_login_median", tookCircles[runs/2].Round(time.Millisecond).String())
	recordFigure(t, "circle_rooms_10x20_after_login_min_max", fmt.Sprintf("%s..%s", tookCircles[0].Round(time.Millisecond), tookCircles[runs-1].Round(time.Millisecond)))
}

// waitCircleRoomWithin waits until the circle room named name is in the
// login's space and holds exactly the ghosts of emails.
func (w *world) waitCircleRoomWithin(t *testing.T, name string, emails []string, timeout time.Duration) {
	t.Helper()
	var wantGhosts []string
	for _, e := range emails {
		wantGhosts = append(wantGhosts, w.br.GhostMXID(e).String())
	}
	slices.Sort(wantGhosts)
	err := eventually(w.ctx, timeout, func() error {
		space, err := w.spaceRoom()
		if err != nil {
			return err
		}
		state, err := w.user.State(w.ctx, space)
		if err != nil {
			return err
		}
		for key, evt := range state[event.StateSpaceChild] {
			if len(evt.Content.Raw) == 0 {
				continue
			}
			room := id.RoomID(key)
			var content event.RoomNameEventContent
			if err := w.user.StateEvent(w.ctx, room, event.StateRoomName, "", &content); err != nil || content.Name != name {
				continue
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
			slices.Sort(ghosts)
			if !slices.Equal(ghosts, wantGhosts) {
				return fmt.Errorf("circle room %q has %d ghosts, want %d", name, len(ghosts), len(wantGhosts))
			}
			return nil
		}
		return fmt.Errorf("no circle room %q in the space", name)
	})
	if err != nil {
		t.Fatal(err)
	}
}
