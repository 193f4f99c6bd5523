package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/internal/sqlwhere"
	"github.com/guaracloud/auditlog/postgres"
)

// maxSynced bounds the memory of which shard tables already name a project's owner.
const maxSynced = 100_000

// Reader serves a cluster node's reads: a user's reads go to the user's
// shard unchanged; a project's admin trail is read from every shard and
// merged. Tokens, project owners and secrets come from the shared State.
//
// The trail's cursor needs nothing per shard: every shard orders its entries
// by the same keyset, (occurred_at, id) descending, and reads strictly after
// an auditlog.Position. A merged page holds the newest `limit` entries of the
// union, so every shard's entries newer than the page's last position are on
// the page or an earlier one; the last position is therefore, at once, every
// shard's position, and the api's signed cursor works unchanged.
type Reader struct {
	shards *Shards
	state  *State

	mu     sync.Mutex
	synced map[syncKey]string // (shard, project) -> the owner this node wrote to that shard's projects table
}

type syncKey struct {
	shard   int
	project string
}

// NewReader routes reads over shards, with state as the authority on tokens, owners and secrets.
func NewReader(shards *Shards, state *State) *Reader {
	return &Reader{shards: shards, state: state, synced: map[syncKey]string{}}
}

// userStore is the store of the shard holding the user's entries
// (EUnavailable while it is not open); op names the caller in errors.
func (r *Reader) userStore(op, userID string) (*postgres.Store, error) {
	st, err := r.shards.Store(ShardOf(userID, r.shards.Count()))
	if err != nil {
		return nil, fmt.Errorf("cluster.Reader.%s: %w", op, err)
	}
	return st, nil
}

// Query returns one page of the scope's entries, newest first; the admin
// trail is merged over every shard, and fails whole when any shard cannot answer.
func (r *Reader) Query(ctx context.Context, scope auditlog.Scope, q auditlog.Query) (auditlog.Page, error) {
	if scope.ProjectID == "" {
		st, err := r.userStore("Query", scope.UserID)
		if err != nil {
			return auditlog.Page{}, err
		}
		return st.Query(ctx, scope, q)
	}
	if err := auditlog.CheckScope(ctx, r.state, scope); err != nil {
		return auditlog.Page{}, err
	}
	pages := make([]auditlog.Page, r.shards.Count())
	for attempt := 0; ; attempt++ {
		errs := r.eachShard(ctx, scope, func(ctx context.Context, k int, st *postgres.Store) error {
			p, err := st.Query(ctx, scope, q)
			pages[k] = p
			return err
		})
		if err := firstError(errs); err == nil {
			return mergePages(pages, sqlwhere.Limit(q)), nil
		} else if !r.staleOwner(scope, errs) || attempt > 0 {
			return auditlog.Page{}, fmt.Errorf("cluster.Reader.Query: %w", err)
		}
	}
}

// Get returns one entry visible in the scope, or ENotFound; for the admin
// trail every shard is asked.
func (r *Reader) Get(ctx context.Context, scope auditlog.Scope, id string) (auditlog.Entry, error) {
	if scope.ProjectID == "" {
		st, err := r.userStore("Get", scope.UserID)
		if err != nil {
			return auditlog.Entry{}, err
		}
		return st.Get(ctx, scope, id)
	}
	if err := auditlog.CheckScope(ctx, r.state, scope); err != nil {
		return auditlog.Entry{}, err
	}
	found := make([]*auditlog.Entry, r.shards.Count())
	for attempt := 0; ; attempt++ {
		errs := r.eachShard(ctx, scope, func(ctx context.Context, k int, st *postgres.Store) error {
			e, err := st.Get(ctx, scope, id)
			if err == nil {
				found[k] = &e
			}
			return err
		})
		for _, e := range found {
			if e != nil {
				return *e, nil
			}
		}
		err := firstError(errs)
		if !r.staleOwner(scope, errs) || attempt > 0 {
			return auditlog.Entry{}, fmt.Errorf("cluster.Reader.Get: %w", err)
		}
	}
}

// Follow reads a user's entries in commit order from the user's shard. The
// admin trail cannot be followed across shards (each has its own seq): it is
// followed per user.
func (r *Reader) Follow(ctx context.Context, scope auditlog.Scope, f auditlog.Filter, afterSeq int64, limit int) ([]auditlog.Entry, int64, error) {
	if scope.ProjectID != "" {
		if err := auditlog.CheckScope(ctx, r.state, scope); err != nil {
			return nil, 0, err
		}
		return nil, 0, auditlog.Errorf(auditlog.EInvalid, "in cluster mode the admin trail is followed per user (each shard has its own seq); follow with an actor filter on each user, or page the trail")
	}
	st, err := r.userStore("Follow", scope.UserID)
	if err != nil {
		return nil, 0, err
	}
	return st.Follow(ctx, scope, f, afterSeq, limit)
}

// eachShard runs fn on every shard concurrently, each with ctx, after making
// sure the shard's own projects table names the scope's user as the
// project's owner (the shard store checks its table; State is the
// authority). It returns one error per shard.
func (r *Reader) eachShard(ctx context.Context, scope auditlog.Scope, fn func(ctx context.Context, k int, st *postgres.Store) error) []error {
	n := r.shards.Count()
	errs := make([]error, n)
	stores := make([]*postgres.Store, n)
	for k := range n {
		st, err := r.shards.Store(k)
		if err != nil {
			errs[k] = err
			return errs // no partial answers: one missing shard fails the read
		}
		stores[k] = st
	}
	var wg sync.WaitGroup
	for k, st := range stores {
		wg.Go(func() {
			if err := r.syncOwner(ctx, k, st, scope.ProjectID, scope.UserID); err != nil {
				errs[k] = err
				return
			}
			errs[k] = fn(ctx, k, st)
		})
	}
	wg.Wait()
	return errs
}

// syncOwner writes the project's owner into shard k's projects table unless
// this node already did.
func (r *Reader) syncOwner(ctx context.Context, k int, st *postgres.Store, projectID, owner string) error {
	key := syncKey{k, projectID}
	r.mu.Lock()
	done := r.synced[key] == owner
	r.mu.Unlock()
	if done {
		return nil
	}
	cur, err := st.ProjectOwner(ctx, projectID)
	if err != nil && auditlog.ErrorCode(err) != auditlog.ENotFound {
		return fmt.Errorf("shard %d: %w", k, err)
	}
	if err != nil || cur != owner {
		if err := st.SetProjectOwner(ctx, projectID, owner); err != nil {
			return fmt.Errorf("shard %d: %w", k, err)
		}
	}
	r.mu.Lock()
	if len(r.synced) >= maxSynced {
		clear(r.synced)
	}
	r.synced[key] = owner
	r.mu.Unlock()
	return nil
}

// staleOwner reports whether a shard answered not-found, which may be its
// projects table naming another owner (another node changed it since this
// one wrote it); it forgets those shards' sync so a retry writes it again.
func (r *Reader) staleOwner(scope auditlog.Scope, errs []error) bool {
	stale := false
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, err := range errs {
		if auditlog.ErrorCode(err) == auditlog.ENotFound {
			delete(r.synced, syncKey{k, scope.ProjectID})
			stale = true
		}
	}
	return stale
}

// firstError picks what a multi-shard read reports: unavailability first
// (the read must be retried), then any other error, else nil.
func firstError(errs []error) error {
	var first error
	for k, err := range errs {
		if err == nil {
			continue
		}
		if auditlog.ErrorCode(err) == auditlog.EUnavailable {
			return fmt.Errorf("shard %d: %w", k, err)
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// mergePages merges pages already in newest-first order into the newest
// limit entries; Next is set when any entry was left for a later page.
func mergePages(pages []auditlog.Page, limit int) auditlog.Page {
	heads := make([]int, len(pages))
	more := false
	for _, p := range pages {
		more = more || p.Next != nil
	}
	var out auditlog.Page
	for len(out.Entries) < limit {
		best := -1
		for k, p := range pages {
			if heads[k] < len(p.Entries) && (best < 0 || newer(&p.Entries[heads[k]], &pages[best].Entries[heads[best]])) {
				best = k
			}
		}
		if best < 0 {
			break
		}
		out.Entries = append(out.Entries, pages[best].Entries[heads[best]])
		heads[best]++
	}
	for k, p := range pages {
		more = more || heads[k] < len(p.Entries)
	}
	if more && len(out.Entries) > 0 {
		last := auditlog.PositionOf(&out.Entries[len(out.Entries)-1])
		out.Next = &last
	}
	return out
}

// newer reports whether a comes strictly before b in newest-first (occurred_at, id) order.
func newer(a, b *auditlog.Entry) bool {
	pa, pb := auditlog.PositionOf(a), auditlog.PositionOf(b)
	if pa.OccurredAt != pb.OccurredAt {
		return pa.OccurredAt > pb.OccurredAt
	}
	return strings.Compare(pa.ID, pb.ID) > 0
}

// SetProjectOwner records a project's owner in the shared State (the shard
// tables follow when the trail is read).
func (r *Reader) SetProjectOwner(ctx context.Context, projectID, ownerID string) error {
	return r.state.SetProjectOwner(ctx, projectID, ownerID)
}

// ProjectOwner returns the project's owner from the shared State, or ENotFound.
func (r *Reader) ProjectOwner(ctx context.Context, projectID string) (string, error) {
	return r.state.ProjectOwner(ctx, projectID)
}

// UserProjects lists the projects the user acted in (from the user's shard)
// or owns (from State), sorted and without repeats.
func (r *Reader) UserProjects(ctx context.Context, userID string) ([]string, error) {
	st, err := r.userStore("UserProjects", userID)
	if err != nil {
		return nil, err
	}
	acted, err := st.UserProjects(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("cluster.Reader.UserProjects: %w", err)
	}
	out := append(acted, r.state.OwnedProjects(userID)...)
	slices.Sort(out)
	return slices.Compact(out), nil
}

// CreateToken stores a token in the shared State.
func (r *Reader) CreateToken(ctx context.Context, t auditlog.Token) error {
	return r.state.CreateToken(ctx, t)
}

// TokenByID returns a token from the shared State, or ENotFound.
func (r *Reader) TokenByID(ctx context.Context, id string) (auditlog.Token, error) {
	return r.state.TokenByID(ctx, id)
}

// ListTokens lists the shared State's tokens, oldest first.
func (r *Reader) ListTokens(ctx context.Context) ([]auditlog.Token, error) {
	return r.state.ListTokens(ctx)
}

// RevokeToken revokes a token for every node.
func (r *Reader) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return r.state.RevokeToken(ctx, id, at)
}

// Secret returns a cluster-wide secret from the shared State.
func (r *Reader) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	return r.state.Secret(ctx, name, size)
}

// Ping reports EUnavailable unless the NATS JetStream quorum answers.
func (r *Reader) Ping(ctx context.Context) error { return r.state.Ping(ctx) }
