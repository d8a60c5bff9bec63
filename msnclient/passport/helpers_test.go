package passport

import "fmt"

func sprintAll(vs ...any) string {
	return fmt.Sprintf("%v %+v %#v %s", vs, vs, vs, vs)
}
