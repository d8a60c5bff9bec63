package database

import (
	"context"
	"reflect"
	"testing"
)

func TestGroupSpaces(t *testing.T) {
	for name, db := range testDatabases(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			work := &GroupSpace{LoginID: "me", GroupID: "g1", Name: "Work", RoomID: "!w:x", Members: []string{"c@x.com", "b@x.com", "b@x.com"}}
			if err := db.GroupSpace.Put(ctx, work); err != nil {
				t.Fatal(err)
			}
			if err := db.GroupSpace.Put(ctx, &GroupSpace{LoginID: "me", GroupID: "g2", Name: "Friends", RoomID: "!f:x"}); err != nil {
				t.Fatal(err)
			}
			if err := db.GroupSpace.Put(ctx, &GroupSpace{LoginID: "other", GroupID: "g1", Name: "Theirs", RoomID: "!t:x"}); err != nil {
				t.Fatal(err)
			}
			work.Name, work.Children = "Colleagues", []string{"!dm:x"}
			if err := db.GroupSpace.Put(ctx, work); err != nil {
				t.Fatal(err)
			}
			got, err := db.GroupSpace.GetAll(ctx, "me")
			if err != nil || len(got) != 2 {
				t.Fatalf("GetAll: %+v %v", got, err)
			}
			want := &GroupSpace{LoginID: "me", GroupID: "g1", Name: "Colleagues", RoomID: "!w:x", Members: []string{"b@x.com", "c@x.com"}, Children: []string{"!dm:x"}}
			if !reflect.DeepEqual(got[0], want) {
				t.Errorf("got %+v, want %+v", got[0], want)
			}
			if got[1].Members != nil || got[1].Name != "Friends" {
				t.Errorf("empty group: %+v", got[1])
			}
			if err := db.GroupSpace.Delete(ctx, "me", "g1"); err != nil {
				t.Fatal(err)
			}
			if err := db.GroupSpace.DeleteAll(ctx, "me"); err != nil {
				t.Fatal(err)
			}
			if got, _ := db.GroupSpace.GetAll(ctx, "me"); len(got) != 0 {
				t.Errorf("after delete: %+v", got)
			}
			if got, _ := db.GroupSpace.GetAll(ctx, "other"); len(got) != 1 {
				t.Errorf("other login's rows: %+v", got)
			}
		})
	}
}
