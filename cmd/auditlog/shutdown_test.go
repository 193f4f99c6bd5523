package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/sqlite"
)

// TestShutdownCommitsAcknowledgedWrites closes the server while writers are
// busy: every write that got a 201 is in the database afterwards.
func TestShutdownCommitsAcknowledgedWrites(t *testing.T) {
	ts := MustStart(t)
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				id := fmt.Sprintf("w%d-%d", w, i)
				body := fmt.Sprintf(`{"id":%q,"action":"deploy.create","resource_type":"deploy","resource_id":"dep","actor_id":"usr_ana","outcome":"success"}`, id)
				req, _ := http.NewRequest("POST", ts.URL()+"/v1/audit-logs", stringsReader(body))
				req.Header.Set("Authorization", "Bearer "+ts.writer)
				res, err := client.Do(req)
				if err != nil {
					return // the listener is gone
				}
				var out struct{ IDs []string }
				json.NewDecoder(res.Body).Decode(&out)
				res.Body.Close()
				if res.StatusCode == http.StatusCreated {
					mu.Lock()
					acked = append(acked, id)
					mu.Unlock()
				} else if res.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("write during shutdown: %d", res.StatusCode)
					return
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := ts.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	store, err := sqlite.Open(context.Background(), ts.path)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if len(acked) < 10 {
		t.Fatalf("only %d writes before shutdown", len(acked))
	}
	for _, id := range acked {
		if _, err := store.Get(context.Background(), auditlog.UserScope("usr_ana"), id); err != nil {
			t.Fatalf("acknowledged %s lost: %v", id, err)
		}
	}
	t.Logf("%d acknowledged writes, all stored", len(acked))
}
