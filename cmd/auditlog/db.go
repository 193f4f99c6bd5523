package main

import (
	"errors"
	"fmt"

	"github.com/guaracloud/auditlog/postgres"
	"github.com/spf13/cobra"
)

// newDB builds `auditlog db`, the database administration commands.
func newDB() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Set up the PostgreSQL database (schema and roles) and prune old entries"}
	var db, role, password string
	initCmd := &cobra.Command{
		Use:   "init --db postgres://OWNER@HOST/DB [--runtime-role NAME [--runtime-password PASSWORD]]",
		Short: "Migrate the schema as its owner and grant a runtime role only what serve needs",
		Long: `Connects as the role the --db URL names, which becomes the owner of the schema
(tables, partitions, triggers): it applies the migrations and makes the month
partitions around now. With --runtime-role it also creates that role (LOGIN,
nothing else) if it is missing, sets its password when one is given, and grants
it exactly what 'auditlog serve' needs: SELECT and INSERT on the entries, never
UPDATE, DELETE or TRUNCATE, and EXECUTE on the function that makes new month
partitions. Then run 'auditlog serve --db postgres://RUNTIME_ROLE@HOST/DB'.
Idempotent: run it again, as the owner, after upgrading auditlog.
Prefer AUDITLOG_RUNTIME_PASSWORD to the flag, which other users can see in ps.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !postgres.IsDSN(db) {
				return errors.New("db init: --db must be a postgres:// or postgresql:// URL (SQLite needs no init)")
			}
			if password != "" && role == "" {
				return errors.New("db init: --runtime-password needs --runtime-role")
			}
			res, err := postgres.Init(cmd.Context(), db, postgres.InitOptions{RuntimeRole: role, RuntimePassword: password})
			if err != nil {
				return fmt.Errorf("db init: %w", err)
			}
			w := cmd.ErrOrStderr()
			fmt.Fprintf(w, "database %s, schema %s: at schema version %d, owned by %s\n", res.Database, res.Schema, res.SchemaVersion, res.Owner)
			if role != "" {
				verb := "updated"
				if res.RoleCreated {
					verb = "created"
				}
				fmt.Fprintf(w, "runtime role %s %s: SELECT and INSERT on entries, never UPDATE, DELETE or TRUNCATE (nor DROP: only the owner prunes); changes to its stream destinations\n", role, verb)
				fmt.Fprintf(w, "next: auditlog serve --db 'postgres://%s@HOST/%s' (with its password, if it has one)\n", role, res.Database)
			}
			return nil
		},
	}
	initCmd.Flags().StringVar(&db, "db", "", "postgres:// URL; its user owns the schema (needs CREATEROLE to create the runtime role)")
	initCmd.Flags().StringVar(&role, "runtime-role", "", "role for 'auditlog serve': created if missing, granted INSERT and SELECT on entries only (and what its tokens, projects and stream destinations need)")
	initCmd.Flags().StringVar(&password, "runtime-password", "", "password to set on the runtime role (prefer AUDITLOG_RUNTIME_PASSWORD)")
	cmd.AddCommand(initCmd, newDBPrune())
	return cmd
}
