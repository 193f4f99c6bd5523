package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// InitOptions says what Init sets up besides the schema.
type InitOptions struct {
	RuntimeRole     string // the role `auditlog serve` connects as; created when missing, skipped when empty
	RuntimePassword string // set on the runtime role when not empty (sent to the server as a SCRAM verifier)
}

// InitResult reports what Init did.
type InitResult struct {
	SchemaVersion int    // the migration version the database is at
	Owner         string // the role that owns the schema (the one Init connected as)
	Database      string
	Schema        string
	RoleCreated   bool // the runtime role did not exist before
}

// Init migrates the database as its owner (the role the DSN names), makes the
// month partitions around now, and, when opts names a runtime role, creates
// it (LOGIN, no other attribute) and grants it exactly what `auditlog serve`
// needs: SELECT and INSERT on entries, entry_ids and checkpoints (never
// UPDATE, DELETE or TRUNCATE), SELECT, INSERT and UPDATE of the hashes on
// tiles (whose trigger lets a partial tile only grow by appending, never a
// full one change; no DELETE or TRUNCATE), SELECT and UPDATE on the log-state row
// (the seq and the Merkle tree's state), what the token, project and secret
// tables need, SELECT only on the retention tombstones and prune records
// (only the owner prunes), SELECT, INSERT, UPDATE and DELETE on streams (the
// stream destinations with their delivery progress and leases: configuration,
// not evidence), UPDATE on the readiness probe's row, and EXECUTE on the
// partition-making function. It is idempotent: run it again after an upgrade.
func Init(ctx context.Context, dsn string, opts InitOptions) (InitResult, error) {
	s, err := Open(ctx, dsn)
	if err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	defer s.Close()
	res := InitResult{SchemaVersion: SchemaVersion()}
	if err := s.pool.QueryRow(ctx, `SELECT current_user, current_database(), current_schema()`).
		Scan(&res.Owner, &res.Database, &res.Schema); err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	if opts.RuntimeRole == "" {
		return res, nil
	}
	if opts.RuntimeRole == res.Owner {
		return InitResult{}, fmt.Errorf("postgres.Init: the runtime role must differ from the owner %q", res.Owner)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if res.RoleCreated, err = ensureRole(ctx, tx, opts); err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	if err := grantRuntime(ctx, tx, opts.RuntimeRole, res.Database, res.Schema); err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return InitResult{}, fmt.Errorf("postgres.Init: %w", err)
	}
	return res, nil
}

// ensureRole creates the runtime role when missing, refuses one with powers
// that would defeat the split, and sets its password when one is given.
func ensureRole(ctx context.Context, tx pgx.Tx, opts InitOptions) (created bool, err error) {
	role := pgx.Identifier{opts.RuntimeRole}.Sanitize()
	var super, bypass bool
	err = tx.QueryRow(ctx, `SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1`, opts.RuntimeRole).Scan(&super, &bypass)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `CREATE ROLE `+role+` LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION`); err != nil {
			return false, fmt.Errorf("create role %s: %w", role, err)
		}
		created = true
	case err != nil:
		return false, fmt.Errorf("look up role %s: %w", role, err)
	case super || bypass:
		return false, fmt.Errorf("role %s is a superuser (or bypasses RLS): a runtime role must not be", role)
	default:
		var member bool
		if err := tx.QueryRow(ctx, `SELECT pg_has_role($1, current_user, 'MEMBER')`, opts.RuntimeRole).Scan(&member); err != nil {
			return false, fmt.Errorf("look up role %s: %w", role, err)
		}
		if member {
			return false, fmt.Errorf("role %s is a member of the owner role: it could act as the owner", role)
		}
	}
	if opts.RuntimePassword == "" {
		return created, nil
	}
	if verifier, ok := scramVerifier(opts.RuntimePassword); ok {
		_, err = tx.Exec(ctx, `ALTER ROLE `+role+` PASSWORD '`+verifier+`'`)
	} else { // non-ASCII: let the server apply SASLprep and hash it
		var stmt string
		if err = tx.QueryRow(ctx, `SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text)`, opts.RuntimeRole, opts.RuntimePassword).Scan(&stmt); err == nil {
			_, err = tx.Exec(ctx, stmt)
		}
	}
	if err != nil {
		return false, fmt.Errorf("set the password of %s: %w", role, err)
	}
	return created, nil
}

// runtimeGrants is everything the runtime role may do, table by table.
var runtimeGrants = []struct{ privileges, object string }{
	{"SELECT, INSERT", "TABLE entries"},
	{"SELECT, INSERT", "TABLE entry_ids"},
	{"SELECT, UPDATE", "TABLE log_state"},              // SELECT ... FOR UPDATE, and advancing next_seq and the tree (a trigger keeps both from going back)
	{"SELECT, INSERT, UPDATE", "TABLE actor_heads"},    // commits extend actors' chains (a trigger keeps every head from going back)
	{"SELECT, INSERT, UPDATE (hashes)", "TABLE tiles"}, // commits add tiles and grow the partial ones (a trigger allows appending only); proofs read them
	{"SELECT, INSERT", "TABLE checkpoints"},            // the signing loop adds checkpoints; never UPDATE, DELETE or TRUNCATE
	{"SELECT, INSERT", "TABLE cosignatures"},           // the witness submitter stores the cosignatures witnesses return; never UPDATE, DELETE or TRUNCATE
	{"SELECT, INSERT, UPDATE", "TABLE projects"},
	{"SELECT, INSERT, UPDATE", "TABLE tokens"}, // revocation
	{"SELECT, INSERT", "TABLE secrets"},
	{"SELECT, UPDATE", "TABLE write_probe"},      // readiness proves commits can succeed by updating its one row
	{"SELECT, UPDATE", "TABLE cluster_position"}, // cluster mode: the fence epoch and applied stream seq (a trigger keeps both from going back)
	{"SELECT", "TABLE schema_migrations"},        // Open checks that nothing is pending
	{"SELECT", "TABLE pruned_entries"},           // a pruned entry's GET and resend; only the owner's prune writes it
	{"SELECT", "TABLE prune_records"},            // verify --db; only the owner's prune writes it
	{"EXECUTE", "FUNCTION auditlog_create_partition(integer, integer)"},
	// Stream destinations: configuration, delivery progress and leases, not
	// audit evidence, so the one table the runtime role may delete from.
	{"SELECT, INSERT, UPDATE, DELETE", "TABLE streams"},
}

// grantRuntime resets the runtime role's privileges on the schema's objects to runtimeGrants.
func grantRuntime(ctx context.Context, tx pgx.Tx, roleName, database, schema string) error {
	role := pgx.Identifier{roleName}.Sanitize()
	stmts := []string{
		`GRANT CONNECT ON DATABASE ` + pgx.Identifier{database}.Sanitize() + ` TO ` + role,
		`GRANT USAGE ON SCHEMA ` + pgx.Identifier{schema}.Sanitize() + ` TO ` + role,
	}
	for _, g := range runtimeGrants {
		stmts = append(stmts,
			`REVOKE ALL ON `+g.object+` FROM `+role,
			`GRANT `+g.privileges+` ON `+g.object+` TO `+role)
	}
	for _, stmt := range stmts {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", strings.SplitN(stmt, " TO ", 2)[0], err)
		}
	}
	return nil
}

// scramIterations is PostgreSQL's default scram_iterations.
const scramIterations = 4096

// scramVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for an
// ASCII password, so the password itself never reaches the server (or its
// statement log). It reports false for non-ASCII passwords, which need SASLprep.
func scramVerifier(password string) (string, bool) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", false
	}
	return scramVerifierWith(password, salt, scramIterations)
}

// scramVerifierWith computes the verifier for a given salt and iteration count.
func scramVerifierWith(password string, salt []byte, iterations int) (string, bool) {
	for i := 0; i < len(password); i++ {
		if password[i] < 0x20 || password[i] > 0x7e {
			return "", false
		}
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", false
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iterations) + ":" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(mac(salted, "Server Key")), true
}
