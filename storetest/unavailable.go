package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/stream"
	"github.com/transparency-dev/merkle/compact"
)

// testUnavailableWhenClosed holds every store to Unavailable once its database is closed.
func testUnavailableWhenClosed(t *testing.T, s auditlog.Store) {
	s.Close()
	Unavailable(t, s, 5*time.Second)
}

// Unavailable checks a broken store (its database closed, or its server
// unreachable): every exported method that returns an error returns an
// EUnavailable one with a message that hides the cause, never an error
// without a code (which the API would answer as a 500). Each call gets its
// own context ending after timeout, so a method that would wait for the
// whole outage fails too. Methods are found by reflection, so one added
// later is checked without touching this suite; one taking an argument of a
// type the suite cannot make fails here until a value is added below.
func Unavailable(t *testing.T, broken any, timeout time.Duration) {
	t.Helper()
	_, tok, err := auditlog.NewToken(auditlog.UserToken, "usr_ana", Base)
	if err != nil {
		t.Fatal(err)
	}
	pending := auditlog.Pending{Entry: auditlog.Entry{ID: "evt-unavailable", Action: "service.update",
		ResourceType: "service", ResourceID: "svc_api", ActorID: "usr_ana", Outcome: auditlog.Success, OccurredAt: Base}}
	values := map[reflect.Type]reflect.Value{}
	for _, v := range []any{
		"usr_ana", 10, int64(0), uint64(1), Base, tok, []string{"evt-unavailable"},
		auditlog.UserScope("usr_ana"), auditlog.Query{Limit: 10}, auditlog.Filter{},
		[][]auditlog.Pending{{pending}},
		integrity.Checkpoint{Size: 1, Root: make([]byte, 32), Note: []byte("note\n"), CreatedAt: Base},
		[]compact.NodeID{compact.NewNodeID(0, 0)},
		[]integrity.TileID{{Level: 0, Index: 0, Width: 1}},
		stream.Destination{ID: "str_aaaaaaaaaaaaaaaaaaaaaaaaaa", OwnerID: "usr_ana", Scope: stream.ScopeMe, Type: stream.Syslog,
			URL: "tcp://198.51.100.7:514", Status: stream.Active, Position: -1, CreatedAt: Base, UpdatedAt: Base, Version: 1},
		stream.Progress{Position: 0, Status: stream.Active, At: Base},
	} {
		values[reflect.TypeOf(v)] = reflect.ValueOf(v)
	}
	ctxType, errType := reflect.TypeFor[context.Context](), reflect.TypeFor[error]()
	store := reflect.ValueOf(broken)
	for i := range store.NumMethod() {
		name, method := store.Type().Method(i).Name, store.Method(i)
		ft := method.Type()
		if name == "Close" || ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != errType {
			continue
		}
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			args := make([]reflect.Value, ft.NumIn())
			for j := range args {
				in := ft.In(j)
				v, ok := values[in]
				if in == ctxType {
					v, ok = reflect.ValueOf(ctx), true
				}
				if !ok {
					t.Fatalf("%s takes a %s: add a value of that type to storetest.Unavailable so that the method is checked", name, in)
				}
				args[j] = v
			}
			out := method.Call(args)
			err, _ := out[len(out)-1].Interface().(error)
			switch {
			case err == nil:
				t.Fatalf("%s succeeded on a broken store", name)
			case auditlog.ErrorCode(err) != auditlog.EUnavailable:
				t.Fatalf("%s: code %q, want %q (a storage failure must be a 503): %v", name, auditlog.ErrorCode(err), auditlog.EUnavailable, err)
			case !strings.HasPrefix(auditlog.ErrorMessage(err), "storage "):
				t.Fatalf("%s: message %q: the caller sees the cause, not the generic storage message", name, auditlog.ErrorMessage(err))
			}
		})
	}
}
