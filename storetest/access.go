package storetest

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

func testAdminTrail(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(10, 10))
	all := seed(t, s, r, 300)
	ctx := context.Background()
	trail := auditlog.ProjectScope("prj_api", "usr_carla")
	if _, err := s.Query(ctx, trail, auditlog.Query{Limit: 10}); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("trail of a project without owner: %v", err)
	}
	if err := s.SetProjectOwner(ctx, "prj_api", "usr_carla"); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		f := RandomFilter(r)
		if i%3 == 0 {
			f.ActorID = users[r.IntN(len(users))]
		}
		got := ids(Walk(t, s, trail, auditlog.Query{Filter: f, Limit: 1 + r.IntN(30)}))
		if want := Expect(all, trail, f); !slices.Equal(got, want) {
			t.Fatalf("trail filter %s: got %d want %d", f.Key(), len(got), len(want))
		}
	}
	actors := map[string]bool{}
	for _, e := range Walk(t, s, trail, auditlog.Query{Limit: 100}) {
		actors[e.ActorID] = true
	}
	if len(actors) < 2 {
		t.Fatalf("trail shows actors %v, want the collaborators too", actors)
	}
	for _, u := range []string{"usr_ana", "usr_bruno"} {
		if _, err := s.Query(ctx, auditlog.ProjectScope("prj_api", u), auditlog.Query{Limit: 10}); auditlog.ErrorCode(err) != auditlog.ENotFound {
			t.Fatalf("non-owner %s read the trail: %v", u, err)
		}
	}
	for _, e := range all {
		_, err := s.Get(ctx, trail, e.ID)
		inProject := e.ProjectID != nil && *e.ProjectID == "prj_api"
		if inProject != (err == nil) {
			t.Fatalf("trail get of %s (project %v): %v", e.ID, e.ProjectID, err)
		}
	}
	if err := s.SetProjectOwner(ctx, "prj_api", "usr_ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Query(ctx, trail, auditlog.Query{Limit: 10}); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("former owner still reads the trail: %v", err)
	}
	if owner, err := s.ProjectOwner(ctx, "prj_api"); err != nil || owner != "usr_ana" {
		t.Fatalf("owner = %q, %v", owner, err)
	}
}

func testTokens(t *testing.T, s auditlog.Store) {
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	secret, tok, err := auditlog.NewToken(auditlog.UserToken, "usr_ana", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	wsecret, wtok, _ := auditlog.NewToken(auditlog.WriterToken, "", now)
	if err := s.CreateToken(ctx, wtok); err != nil {
		t.Fatal(err)
	}
	got, err := auditlog.Authenticate(ctx, s, secret)
	if err != nil || got.UserID != "usr_ana" || got.Kind != auditlog.UserToken {
		t.Fatalf("authenticate user token: %+v %v", got, err)
	}
	if got, err := auditlog.Authenticate(ctx, s, wsecret); err != nil || got.Kind != auditlog.WriterToken {
		t.Fatalf("authenticate writer token: %+v %v", got, err)
	}
	last := "a" // the secret with its last character changed
	if strings.HasSuffix(secret, last) {
		last = "b"
	}
	for _, bad := range []string{"", "x", secret + "x", secret[:len(secret)-1] + last, "alw" + secret[3:]} {
		if _, err := auditlog.Authenticate(ctx, s, bad); auditlog.ErrorCode(err) != auditlog.EUnauthorized {
			t.Fatalf("bad secret %q: %v", bad, err)
		}
	}
	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("list: %v %v", list, err)
	}
	for _, l := range list {
		if bytes.Contains([]byte(secret), []byte(l.Hash[:])) {
			t.Fatal("secret stored")
		}
	}
	if err := s.RevokeToken(ctx, tok.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := auditlog.Authenticate(ctx, s, secret); auditlog.ErrorCode(err) != auditlog.EUnauthorized {
		t.Fatalf("revoked token still works: %v", err)
	}
	if err := s.RevokeToken(ctx, "nosuchid", now); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
}

func testSecrets(t *testing.T, s auditlog.Store) {
	ctx := context.Background()
	a, err := s.Secret(ctx, "cursor", 32)
	if err != nil || len(a) != 32 {
		t.Fatalf("secret: %x %v", a, err)
	}
	b, _ := s.Secret(ctx, "cursor", 32)
	c, _ := s.Secret(ctx, "other", 32)
	if !bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Fatal("secrets are not stable per name")
	}
}

func testUserProjects(t *testing.T, s auditlog.Store) {
	r := rand.New(rand.NewPCG(11, 11))
	all := seed(t, s, r, 100)
	ctx := context.Background()
	if err := s.SetProjectOwner(ctx, "prj_owned_only", "usr_ana"); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"prj_owned_only": true}
	for _, e := range all {
		if e.ActorID == "usr_ana" && e.ProjectID != nil {
			want[*e.ProjectID] = true
		}
	}
	got, err := s.UserProjects(ctx, "usr_ana")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.IsSorted(got) {
		t.Fatalf("projects %v, want %v", got, want)
	}
	for _, p := range got {
		if !want[p] {
			t.Fatalf("unexpected project %s", p)
		}
	}
}
