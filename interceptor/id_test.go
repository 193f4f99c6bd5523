package interceptor_test

import (
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog/interceptor"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewID(t *testing.T) {
	at := time.Now().Add(time.Hour) // ahead of every id made so far in this process
	id := interceptor.NewID(at)
	if !uuidRE.MatchString(id) {
		t.Fatalf("%q is not an RFC 9562 UUIDv7", id)
	}
	u, err := uuid.Parse(id)
	if err != nil || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		t.Fatalf("%v: version %d variant %v", err, u.Version(), u.Variant())
	}
	if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).UnixMilli() != at.UnixMilli() {
		t.Fatalf("timestamp %v, want %v", time.Unix(sec, nsec), at)
	}

	// Strictly increasing from many goroutines within one millisecond, and unique.
	var mu sync.Mutex
	var all []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			var mine []string
			for range 1000 {
				mine = append(mine, interceptor.NewID(at))
			}
			for i := 1; i < len(mine); i++ {
				if mine[i] <= mine[i-1] {
					t.Errorf("ids not increasing: %s then %s", mine[i-1], mine[i])
					return
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range all {
		seen[id] = true
	}
	if len(seen) != len(all) {
		t.Fatalf("%d duplicate ids", len(all)-len(seen))
	}
	if later := interceptor.NewID(at.Add(time.Second)); later <= all[len(all)-1] {
		t.Fatalf("an id a second later sorts first: %s", later)
	}
}
