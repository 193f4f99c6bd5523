package postgres_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres"
	"github.com/guaracloud/auditlog/postgres/pgtest"
	"github.com/guaracloud/auditlog/storetest"
	"github.com/jackc/pgx/v5/pgconn"
)

// roleSplit is a database set up by Init: a non-superuser owner role and the
// runtime role `auditlog serve` connects as.
type roleSplit struct {
	owner, runtime       string
	ownerDSN, runtimeDSN string
}

func newRoleSplit(t *testing.T) roleSplit {
	t.Helper()
	owner := pgtest.NewRole(t, "auditlog_owner", "LOGIN CREATEROLE")
	runtime := fmt.Sprintf("auditlog_app_%08x", rand.Uint32())
	pgtest.DropRoleAtCleanup(t, runtime)
	admin := pgtest.NewEmptyDatabase(t, owner)
	rs := roleSplit{owner: owner, runtime: runtime, ownerDSN: pgtest.WithUser(admin, owner), runtimeDSN: pgtest.WithUser(admin, runtime)}
	res, err := postgres.Init(context.Background(), rs.ownerDSN, postgres.InitOptions{RuntimeRole: runtime, RuntimePassword: "correct horse battery staple"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.RoleCreated || res.Owner != owner || res.SchemaVersion != postgres.SchemaVersion() {
		t.Fatalf("init: %+v", res)
	}
	return rs
}

func TestRoleSplitAndImmutability(t *testing.T) {
	rs := newRoleSplit(t)
	ctx := context.Background()
	// Init again (an upgrade): nothing breaks, the role is kept.
	if res, err := postgres.Init(ctx, rs.ownerDSN, postgres.InitOptions{RuntimeRole: rs.runtime}); err != nil || res.RoleCreated {
		t.Fatalf("second init: %+v %v", res, err)
	}
	// `auditlog serve` as the runtime role: everything works, including a
	// partition for a month nobody made yet (through the SECURITY DEFINER function).
	s, err := postgres.Open(ctx, rs.runtimeDSN)
	if err != nil {
		t.Fatalf("open as the runtime role: %v", err)
	}
	defer s.Close()
	r := rand.New(rand.NewPCG(5, 5))
	w := storetest.Writer(t, s)
	old := storetest.RandomEvent(r, "usr_ana")
	old.OccurredAt = time.Date(2012, 2, 29, 12, 0, 0, 0, time.UTC)
	stored := storetest.Must(t, w, old, storetest.RandomEvent(r, "usr_ana"), storetest.RandomEvent(r, "usr_bruno"))
	if err := s.SetProjectOwner(ctx, "prj_api", "usr_ana"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Secret(ctx, "cursor", 32); err != nil {
		t.Fatal(err)
	}
	_, tok, _ := auditlog.NewToken(auditlog.UserToken, "usr_ana", time.Now())
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserProjects(ctx, "usr_ana"); err != nil {
		t.Fatal(err)
	}

	runtime, owner := connect(t, rs.runtimeDSN), connect(t, rs.ownerDSN)
	part := scalar[string](t, runtime, `SELECT tableoid::regclass::text FROM entries WHERE id = $1`, stored[0].ID)
	if part != "entries_y2012m02" {
		t.Fatalf("old event stored in %s", part)
	}
	if o := scalar[string](t, owner, `SELECT tableowner::text FROM pg_tables WHERE tablename = $1`, part); o != rs.owner {
		t.Fatalf("partition made by the runtime role is owned by %s, want the owner %s", o, rs.owner)
	}
	changes := func(table string) []string {
		return []string{
			`UPDATE ` + table + ` SET seq = seq + 1000`,
			`DELETE FROM ` + table,
			`DELETE FROM ` + table + ` WHERE seq = 0`,
			`TRUNCATE ` + table,
		}
	}
	var asRuntime, asOwner []string
	for _, table := range []string{"entries", part, "entry_ids"} {
		asRuntime = append(asRuntime, changes(table)...)
		asOwner = append(asOwner, changes(table)...)
	}
	asRuntime = append(asRuntime,
		`DROP TABLE `+part,
		`ALTER TABLE entries DETACH PARTITION `+part,
		`ALTER TABLE entries DISABLE TRIGGER entries_immutable`,
		`DROP TABLE tiles`,
		`ALTER TABLE tiles DISABLE TRIGGER tiles_only_grow`,
		`DROP TRIGGER tiles_only_grow ON tiles`,
		`CREATE OR REPLACE FUNCTION auditlog_tiles_only_grow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`DELETE FROM log_state`,
		`CREATE TABLE entries_shadow (id text)`,
		`TRUNCATE entries_before_2000`)
	for _, stmt := range asRuntime {
		expectRefused(t, runtime.PgConn(), stmt, "42501", "permission denied", "must be owner")
	}
	// What the runtime role may touch, it may not roll back.
	expectRefused(t, runtime.PgConn(), `UPDATE log_state SET next_seq = 0`, "P0001", "only grows")
	for _, stmt := range append(asOwner, `UPDATE log_state SET next_seq = 0`, `DELETE FROM log_state`, `TRUNCATE log_state`) {
		expectRefused(t, owner.PgConn(), stmt, "P0001", "immutable", "only grows")
	}
	// The same refusals through psql, as an operator would try them.
	if _, err := exec.LookPath("psql"); err != nil {
		t.Log("psql not installed: skipping the psql checks")
	} else {
		for _, stmt := range []string{`UPDATE entries SET outcome = 'failed'`, `DELETE FROM entries`, `TRUNCATE entries`} {
			expectPsqlRefused(t, rs.runtimeDSN, stmt, "permission denied")
			expectPsqlRefused(t, rs.ownerDSN, stmt, "immutable")
		}
	}
	// Nothing changed.
	for _, e := range stored {
		got, err := s.Get(ctx, auditlog.UserScope(e.ActorID), e.ID)
		if err != nil || string(got.Canonical) != string(e.Canonical) || got.Seq != e.Seq {
			t.Fatalf("entry %d changed: %v", e.Seq, err)
		}
	}
	if n := scalar[int64](t, owner, `SELECT next_seq FROM log_state`); n != int64(len(stored)) {
		t.Fatalf("next_seq = %d", n)
	}
	for _, c := range []string{`SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = $1`} {
		if scalar[bool](t, owner, c, rs.runtime) {
			t.Fatal("the runtime role has attributes beyond LOGIN")
		}
	}
}

// expectRefused runs stmt and wants it to fail with one of the codes and a message containing one of the words.
func expectRefused(t *testing.T, conn *pgconn.PgConn, stmt, code string, words ...string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), stmt).ReadAll()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Errorf("%s: want a refusal, got %v", stmt, err)
		return
	}
	ok := false
	for _, w := range words {
		ok = ok || strings.Contains(pgErr.Message, w)
	}
	if !ok || (pgErr.Code != code && pgErr.Code != "42501") {
		t.Errorf("%s: refused for another reason: %s (%s)", stmt, pgErr.Message, pgErr.Code)
	}
}

// expectPsqlRefused runs stmt with the psql binary and wants it to fail.
func expectPsqlRefused(t *testing.T, dsn, stmt, word string) {
	t.Helper()
	out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", stmt).CombinedOutput()
	if err == nil || !strings.Contains(string(out), word) {
		t.Errorf("psql %q: err=%v, output %s", stmt, err, out)
	}
}

// The verifier Init sends instead of the password is the one PostgreSQL itself computes.
func TestSCRAMVerifierMatchesServer(t *testing.T) {
	role := pgtest.NewRole(t, "auditlog_scram", "NOLOGIN")
	conn := connect(t, pgtest.AdminDSN(t))
	ctx := context.Background()
	const pw = "s3cret with spaces & 'quotes'"
	if _, err := conn.Exec(ctx, `SET password_encryption = 'scram-sha-256'`); err != nil {
		t.Fatal(err)
	}
	var stmt string
	if err := conn.QueryRow(ctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, role, pw).Scan(&stmt); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatal(err)
	}
	server := scalar[string](t, conn, `SELECT rolpassword FROM pg_authid WHERE rolname = $1`, role)
	// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
	head, _, _ := strings.Cut(strings.TrimPrefix(server, "SCRAM-SHA-256$"), "$")
	iter, salt64, _ := strings.Cut(head, ":")
	n, _ := strconv.Atoi(iter)
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil {
		t.Fatalf("server verifier %q: %v", server, err)
	}
	if mine, ok := postgres.ScramVerifierWith(pw, salt, n); !ok || mine != server {
		t.Fatalf("verifier\n got %s\nwant %s", mine, server)
	}
	if _, ok := postgres.ScramVerifierWith("contraseña", salt, n); ok {
		t.Fatal("a non-ASCII password must be left to the server")
	}
}
