package e2e

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/mautrix-msn/mautrix-msn/e2e/stack"
)

// TestGroupSpacesFigure measures the time from a successful login to all
// contact group spaces in place (10 groups of 20 contacts: every space
// created, named and holding its 20 ghosts), median of 3 fresh stacks. It
// takes minutes, so it runs only when MSN_E2E_GROUP_FIGURES is set:
//
//	MSN_E2E_GROUP_FIGURES=1 MSN_E2E_FIGURES=figures.txt go test -tags goolm -v -run TestGroupSpacesFigure ./e2e/
func TestGroupSpacesFigure(t *testing.T) {
	if os.Getenv("MSN_E2E_GROUP_FIGURES") == "" {
		t.Skip("set MSN_E2E_GROUP_FIGURES=1 to measure (takes minutes)")
	}
	const groups, perGroup, runs = 10, 20, 3
	var took []time.Duration
	for run := range runs {
		t.Run(fmt.Sprintf("run%d", run+1), func(t *testing.T) {
			e := newEnv(t, stack.SQLite())
			w := &world{env: e}
			if err := e.srv.AddAccount(meEmail, mePassword, "Matrix Me"); err != nil {
				t.Fatal(err)
			}
			want := make(map[string][]string, groups)
			for g := range groups {
				name := fmt.Sprintf("Group %02d", g+1)
				if _, err := e.srv.AddGroup(meEmail, name); err != nil {
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
				}
			}
			w.mustLogin(t)
			start := time.Now()
			for name, emails := range want {
				w.waitGroupSpaceWithin(t, name, emails, 5*time.Minute)
			}
			d := time.Since(start)
			t.Logf("run %d: %s", run+1, d.Round(time.Millisecond))
			took = append(took, d)
		})
	}
	if len(took) != runs {
		t.Fatalf("only %d of %d runs finished", len(took), runs)
	}
	slices.Sort(took)
	recordFigure(t, "group_spaces_10x20_after_login_median", took[runs/2].Round(time.Millisecond).String())
	recordFigure(t, "group_spaces_10x20_after_login_min_max", fmt.Sprintf("%s..%s", took[0].Round(time.Millisecond), took[runs-1].Round(time.Millisecond)))
}
