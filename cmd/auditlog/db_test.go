package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/postgres/pgtest"
)

// `auditlog db init` sets up the role split; then two `auditlog serve`
// processes (two Mains) connected as the runtime role take concurrent writes
// over HTTP: every seq is given once, with no gap, across both.
func TestDBInitThenTwoServersOnPostgres(t *testing.T) {
	owner := pgtest.NewRole(t, "auditlog_owner", "LOGIN CREATEROLE")
	runtime := fmt.Sprintf("auditlog_app_%08x", rand.Uint32())
	pgtest.DropRoleAtCleanup(t, runtime)
	admin := pgtest.NewEmptyDatabase(t, owner)

	var stdout, stderr bytes.Buffer
	t.Setenv("AUDITLOG_RUNTIME_PASSWORD", "s3cret-runtime-pw")
	if code := Run(context.Background(), []string{"db", "init", "--db", pgtest.WithUser(admin, owner), "--runtime-role", runtime}, &stdout, &stderr); code != 0 {
		t.Fatalf("db init: exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "runtime role "+runtime+" created") || strings.Contains(stderr.String(), "s3cret") {
		t.Fatalf("db init said: %s", stderr.String())
	}

	servers := make([]*Main, 2)
	key := filepath.Join(t.TempDir(), "auditlog.signing-key") // shared, as every server of one database must; not the working directory
	for i := range servers {
		m := &Main{Addr: "127.0.0.1:0", DB: pgtest.WithUser(admin, runtime), SigningKey: key}
		if err := m.Start(context.Background()); err != nil {
			t.Fatalf("serve as the runtime role: %v", err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			m.Close(ctx)
		})
		servers[i] = m
	}
	secret, tok, _ := auditlog.NewToken(auditlog.WriterToken, "", time.Now())
	if err := servers[0].Store().CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	const writers, posts, per = 3, 8, 10
	var (
		mu   sync.Mutex
		seqs = map[int64]int{}
		wg   sync.WaitGroup
	)
	for _, m := range servers {
		for w := range writers {
			wg.Go(func() {
				for p := range posts {
					events := make([]map[string]any, per)
					for i := range events {
						events[i] = map[string]any{"action": "service.update", "resource_type": "service",
							"resource_id": fmt.Sprintf("svc_%d_%d", w, p), "actor_id": "usr_ana", "outcome": "success"}
					}
					raw, _ := json.Marshal(map[string]any{"events": events})
					req, _ := http.NewRequest(http.MethodPost, m.URL()+"/v1/audit-logs", bytes.NewReader(raw))
					req.Header.Set("Authorization", "Bearer "+secret)
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Error(err)
						return
					}
					var body struct {
						Data []struct {
							Seq int64 `json:"seq"`
						} `json:"data"`
					}
					err = json.NewDecoder(resp.Body).Decode(&body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusCreated || err != nil || len(body.Data) != per {
						t.Errorf("post: %d %v", resp.StatusCode, err)
						return
					}
					mu.Lock()
					for _, e := range body.Data {
						seqs[e.Seq]++
					}
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	total := len(servers) * writers * posts * per
	for i := range int64(total) {
		if seqs[i] != 1 {
			t.Fatalf("seq %d acknowledged %d times (of %d events)", i, seqs[i], total)
		}
	}
	if len(seqs) != total {
		t.Fatalf("%d seqs for %d events", len(seqs), total)
	}
	for _, m := range servers {
		resp, err := http.Get(m.URL() + "/readyz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("readyz: %v %v", resp, err)
		}
		resp.Body.Close()
	}
}
