package cluster

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// callTimeout bounds every NATS call whose context has no deadline of its own.
const callTimeout = 5 * time.Second

// openTimeout bounds OpenState (buckets and initial values) when ctx has no deadline.
const openTimeout = 15 * time.Second

// maxValueSize bounds one value in the state buckets (a token, an owner, a secret).
const maxValueSize = 64 << 10

// StateOptions configures OpenState; the zero value is usable.
type StateOptions struct {
	Replicas int              // replicas of a bucket OpenState must create (default 1); existing buckets are kept as they are
	Now      func() time.Time // clock (default time.Now)
	Logger   *slog.Logger     // nil discards logs
}

// State is the cluster's shared state: tokens, project owners and secrets in
// JetStream KV buckets, with tokens and owners mirrored into memory by
// watches so every node sees a revocation within a second.
type State struct {
	nc       *nats.Conn
	tokensKV jetstream.KeyValue
	projKV   jetstream.KeyValue
	stateKV  jetstream.KeyValue
	now      func() time.Time
	log      *slog.Logger

	mu      sync.RWMutex
	tokens  map[string]cachedToken
	misses  map[string]time.Time           // ids the bucket did not hold, when it was asked (at most maxMisses)
	seen    atomic.Uint64                  // the newest token bucket revision the watch applied
	fresh   atomic.Int64                   // until when (unix ns) the token cache is known to hold every revision
	owners  map[string]cachedOwner         // project id -> owner
	byOwner map[string]map[string]struct{} // owner -> project ids
	unwatch context.CancelFunc             // ends the watches (their subscriptions live as long as their context)
	wg      sync.WaitGroup
	closed  sync.Once
}

type cachedToken struct {
	t   auditlog.Token
	rev uint64
}

type cachedOwner struct {
	owner string
	rev   uint64
}

// tokenRecord is a token as stored in TokenBucket: the hash in hex, never the secret.
type tokenRecord struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	UserID    string `json:"user_id,omitempty"`
	Hash      string `json:"hash"`
	CreatedUS int64  `json:"created_us"`
	RevokedUS *int64 `json:"revoked_us,omitempty"`
}

// projectRecord is a project owner as stored in ProjectBucket.
type projectRecord struct {
	ProjectID string `json:"project_id"`
	OwnerID   string `json:"owner_id"`
	UpdatedUS int64  `json:"updated_us"`
}

// tokenIDRE is what a token id looks like (NewToken's lower-case base32), which is also a valid KV key.
var tokenIDRE = regexp.MustCompile(`^[a-z2-7]{1,64}$`)

// secretNameRE bounds secret names to characters valid in a KV key.
var secretNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// OpenState opens (creating when absent) the cluster's state buckets and
// starts watching tokens and project owners, returning once the watches have
// delivered every current value (or failing at ctx's deadline, 15s without one).
func OpenState(ctx context.Context, nc *nats.Conn, opts StateOptions) (*State, error) {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := withDefaultDeadline(ctx, openTimeout)
	defer cancel()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, auditlog.StoreError(fmt.Errorf("cluster.OpenState: %w", err))
	}
	s := &State{nc: nc, now: opts.Now, log: opts.Logger,
		tokens: map[string]cachedToken{}, owners: map[string]cachedOwner{}, byOwner: map[string]map[string]struct{}{}}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{TokenBucket, &s.tokensKV}, {ProjectBucket, &s.projKV}, {StateBucket, &s.stateKV}} {
		if *b.kv, err = openBucket(ctx, js, b.name, opts.Replicas); err != nil {
			return nil, err
		}
	}
	// The watches outlive OpenState, so they get a context of their own,
	// cancelled by Close, or by ctx's end while OpenState still waits.
	wctx, unwatch := context.WithCancel(context.Background())
	s.unwatch = unwatch
	setup := context.AfterFunc(ctx, unwatch)
	inits := []<-chan struct{}{s.watch(wctx, s.tokensKV, s.applyToken), s.watch(wctx, s.projKV, s.applyProject)}
	for _, ready := range inits {
		if ready == nil {
			s.Close()
			return nil, auditlog.StoreError(fmt.Errorf("cluster.OpenState: cannot watch the state buckets: %w", ctx.Err()))
		}
		select {
		case <-ready:
		case <-ctx.Done():
			s.Close()
			return nil, auditlog.StoreError(fmt.Errorf("cluster.OpenState: the state buckets' current values did not arrive in time: %w", ctx.Err()))
		}
	}
	if !setup() {
		s.Close()
		return nil, auditlog.StoreError(fmt.Errorf("cluster.OpenState: %w", ctx.Err()))
	}
	s.fresh.Store(time.Now().Add(freshFor).UnixNano())
	s.wg.Add(1)
	go s.checkFresh(wctx)
	return s, nil
}

// The token cache is trusted only while a check shows that the watch has
// applied every revision of the bucket: checked every freshEvery, trusted
// for freshFor after a good check. A watch that stalls (its consumer
// restarting after a NATS node's loss) then costs lookups a bucket read,
// never a revoked token accepted for longer than about freshFor.
const (
	freshEvery = 250 * time.Millisecond
	freshFor   = 750 * time.Millisecond
)

// checkFresh compares the token bucket's last revision with the watch's
// until ctx ends, and extends the cache's trust while they agree.
func (s *State) checkFresh(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(freshEvery)
	defer t.Stop()
	stale := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cctx, cancel := context.WithTimeout(ctx, freshFor)
		st, err := s.tokensKV.Status(cctx)
		cancel()
		var last uint64
		if b, ok := st.(*jetstream.KeyValueBucketStatus); err == nil && ok {
			last = b.StreamInfo().State.LastSeq
		}
		if err == nil && last <= s.seen.Load() {
			s.fresh.Store(time.Now().Add(freshFor).UnixNano())
			stale = false
		} else if !stale && ctx.Err() == nil {
			stale = true
			s.log.Warn("cluster state: the token cache is behind the bucket; reading tokens from the bucket until it catches up",
				"bucket_revision", last, "cache_revision", s.seen.Load(), "err", err)
		}
	}
}

// openBucket binds to a KV bucket, creating it (History 1) when absent.
func openBucket(ctx context.Context, js jetstream.JetStream, name string, replicas int) (jetstream.KeyValue, error) {
	var kv jetstream.KeyValue
	err := retry(ctx, isBucketNotFound, func(ctx context.Context) (err error) {
		kv, err = js.KeyValue(ctx, name)
		return err
	})
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, History: 1, Replicas: replicas, Storage: jetstream.FileStorage, MaxValueSize: maxValueSize,
		})
		if errors.Is(err, jetstream.ErrBucketExists) { // another node created it first
			kv, err = js.KeyValue(ctx, name)
		}
	}
	if err != nil {
		return nil, auditlog.StoreError(fmt.Errorf("cluster.OpenState: bucket %s: %w", name, err))
	}
	return kv, nil
}

// isBucketNotFound reports the one answer to a bucket lookup that retrying will not change.
func isBucketNotFound(err error) bool { return errors.Is(err, jetstream.ErrBucketNotFound) }

// watch mirrors a bucket through apply and returns a channel closed once the
// current values are in (nil when the watch cannot start).
func (s *State) watch(ctx context.Context, kv jetstream.KeyValue, apply func(jetstream.KeyValueEntry)) <-chan struct{} {
	w, err := kv.WatchAll(ctx)
	if err != nil {
		s.log.Error("cluster state: watch", "bucket", kv.Bucket(), "err", err)
		return nil
	}
	ready := make(chan struct{})
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		initial := true
		for e := range w.Updates() {
			if e == nil {
				if initial {
					initial = false
					close(ready)
				}
				continue
			}
			apply(e)
		}
	}()
	return ready
}

// applyToken folds one token update into the cache (older revisions never win).
func (s *State) applyToken(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.Revision() > s.seen.Load() {
		s.seen.Store(e.Revision())
	}
	if cur, ok := s.tokens[e.Key()]; ok && cur.rev > e.Revision() {
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		delete(s.tokens, e.Key())
		return
	}
	t, err := decodeToken(e.Value())
	if err != nil {
		s.log.Warn("cluster state: unreadable token record skipped", "err", err)
		return
	}
	s.tokens[e.Key()] = cachedToken{t: t, rev: e.Revision()}
	delete(s.misses, e.Key())
}

// applyProject folds one project owner update into the cache.
func (s *State) applyProject(e jetstream.KeyValueEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := base64.RawURLEncoding.DecodeString(e.Key())
	if err != nil {
		s.log.Warn("cluster state: project key skipped", "err", err)
		return
	}
	id := string(raw)
	cur, ok := s.owners[id]
	if ok && cur.rev > e.Revision() {
		return
	}
	if ok {
		delete(s.byOwner[cur.owner], id)
		if len(s.byOwner[cur.owner]) == 0 {
			delete(s.byOwner, cur.owner)
		}
		delete(s.owners, id)
	}
	if e.Operation() != jetstream.KeyValuePut {
		return
	}
	var r projectRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.OwnerID == "" {
		s.log.Warn("cluster state: unreadable project record skipped", "err", err)
		return
	}
	s.owners[id] = cachedOwner{owner: r.OwnerID, rev: e.Revision()}
	if s.byOwner[r.OwnerID] == nil {
		s.byOwner[r.OwnerID] = map[string]struct{}{}
	}
	s.byOwner[r.OwnerID][id] = struct{}{}
}

func encodeToken(t auditlog.Token) ([]byte, error) {
	r := tokenRecord{ID: t.ID, Kind: string(t.Kind), UserID: t.UserID, Hash: hex.EncodeToString(t.Hash[:]), CreatedUS: t.CreatedAt.UnixMicro()}
	if t.RevokedAt != nil {
		us := t.RevokedAt.UnixMicro()
		r.RevokedUS = &us
	}
	return json.Marshal(r)
}

func decodeToken(b []byte) (auditlog.Token, error) {
	var r tokenRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return auditlog.Token{}, fmt.Errorf("token record: %w", err)
	}
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != 32 {
		return auditlog.Token{}, fmt.Errorf("token record %q: bad hash", r.ID)
	}
	t := auditlog.Token{ID: r.ID, Kind: auditlog.TokenKind(r.Kind), UserID: r.UserID, CreatedAt: time.UnixMicro(r.CreatedUS).UTC()}
	copy(t.Hash[:], h)
	if r.RevokedUS != nil {
		at := time.UnixMicro(*r.RevokedUS).UTC()
		t.RevokedAt = &at
	}
	return t, nil
}

// CreateToken stores a new token (its hash, never its secret); a taken id is EConflict.
func (s *State) CreateToken(ctx context.Context, t auditlog.Token) error {
	if !tokenIDRE.MatchString(t.ID) {
		return auditlog.Errorf(auditlog.EInvalid, "a token id is 1-64 characters of a-z and 2-7")
	}
	b, err := encodeToken(t)
	if err != nil {
		return fmt.Errorf("cluster.State.CreateToken: %w", err)
	}
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	rev, err := s.tokensKV.Create(ctx, t.ID, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return auditlog.Errorf(auditlog.EConflict, "a token with id %q exists", t.ID)
	} else if err != nil {
		return auditlog.StoreError(fmt.Errorf("cluster.State.CreateToken: %w", err))
	}
	s.remember(t, rev)
	return nil
}

// remember caches a token this node just read or wrote, unless the watch brought a newer one.
func (s *State) remember(t auditlog.Token, rev uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.tokens[t.ID]; !ok || cur.rev < rev {
		s.tokens[t.ID] = cachedToken{t: t, rev: rev}
	}
	delete(s.misses, t.ID)
}

// A bearer token with a well-formed but unknown id costs one read of the
// bucket; the answer is then kept for missTTL, so a flood of made-up tokens
// cannot turn each request into a NATS round trip. A token made meanwhile on
// another node arrives through the watch, which clears its miss at once.
const (
	missTTL   = time.Second
	maxMisses = 10000
)

// missedRecently reports whether the bucket lacked id less than missTTL ago.
func (s *State) missedRecently(id string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	at, ok := s.misses[id]
	return ok && time.Since(at) < missTTL
}

// missed records that the bucket lacked id (forgetting every miss when full).
func (s *State) missed(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.misses == nil || len(s.misses) >= maxMisses {
		s.misses = map[string]time.Time{}
	}
	s.misses[id] = time.Now()
}

// TokenByID returns the token with that id, revoked or not, or ENotFound. It
// answers from the watched cache while the cache is known to be current
// (checkFresh); a miss (a token made a moment ago on another node), or any
// read while the node is cut off from NATS or the watch is behind (when a
// revocation could be missed), asks the bucket itself.
func (s *State) TokenByID(ctx context.Context, id string) (auditlog.Token, error) {
	if !tokenIDRE.MatchString(id) {
		return auditlog.Token{}, auditlog.Errorf(auditlog.ENotFound, "no such token")
	}
	if s.nc.IsConnected() && time.Now().UnixNano() < s.fresh.Load() {
		s.mu.RLock()
		c, ok := s.tokens[id]
		s.mu.RUnlock()
		if ok {
			return c.t, nil
		}
		if s.missedRecently(id) {
			return auditlog.Token{}, auditlog.Errorf(auditlog.ENotFound, "no such token")
		}
	}
	t, _, err := s.getToken(ctx, id)
	if auditlog.ErrorCode(err) == auditlog.ENotFound {
		s.missed(id)
	}
	if err != nil {
		return auditlog.Token{}, fmt.Errorf("cluster.State.TokenByID: %w", err)
	}
	return t, nil
}

// getToken reads a token from the bucket, caching it.
func (s *State) getToken(ctx context.Context, id string) (auditlog.Token, uint64, error) {
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	e, err := kvGet(ctx, s.nc, s.tokensKV, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return auditlog.Token{}, 0, auditlog.Errorf(auditlog.ENotFound, "no such token")
	} else if err != nil {
		return auditlog.Token{}, 0, auditlog.StoreError(err)
	}
	t, err := decodeToken(e.Value())
	if err != nil {
		return auditlog.Token{}, 0, err
	}
	s.remember(t, e.Revision())
	return t, e.Revision(), nil
}

// ListTokens lists every token, oldest first (by creation time, then id).
func (s *State) ListTokens(ctx context.Context) ([]auditlog.Token, error) {
	s.mu.RLock()
	out := make([]auditlog.Token, 0, len(s.tokens))
	for _, c := range s.tokens {
		out = append(out, c.t)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b auditlog.Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// RevokeToken marks a token revoked (the first revocation time is kept), or ENotFound.
func (s *State) RevokeToken(ctx context.Context, id string, at time.Time) error {
	if !tokenIDRE.MatchString(id) {
		return auditlog.Errorf(auditlog.ENotFound, "no token with id %q", id)
	}
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	for range 5 { // a concurrent revocation of the same token moves the revision
		t, rev, err := s.getToken(ctx, id)
		if auditlog.ErrorCode(err) == auditlog.ENotFound {
			return auditlog.Errorf(auditlog.ENotFound, "no token with id %q", id)
		} else if err != nil {
			return fmt.Errorf("cluster.State.RevokeToken: %w", err)
		}
		if t.RevokedAt != nil {
			return nil
		}
		when := time.UnixMicro(at.UnixMicro()).UTC()
		t.RevokedAt = &when
		b, err := encodeToken(t)
		if err != nil {
			return fmt.Errorf("cluster.State.RevokeToken: %w", err)
		}
		nrev, err := s.tokensKV.Update(ctx, id, b, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		} else if err != nil {
			return auditlog.StoreError(fmt.Errorf("cluster.State.RevokeToken: %w", err))
		}
		s.remember(t, nrev)
		return nil
	}
	return auditlog.Errorf(auditlog.EUnavailable, "the token kept changing while being revoked; retry")
}

// projectKey is a project id's key in ProjectBucket.
func projectKey(projectID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(projectID))
}

// SetProjectOwner records (or changes) who owns a project, for every node.
func (s *State) SetProjectOwner(ctx context.Context, projectID, ownerID string) error {
	if !auditlog.ValidRef(projectID) || !auditlog.ValidRef(ownerID) {
		return auditlog.Errorf(auditlog.EInvalid, "a project id and an owner id are 1-%d printable characters", auditlog.MaxRefLen)
	}
	b, err := json.Marshal(projectRecord{ProjectID: projectID, OwnerID: ownerID, UpdatedUS: s.now().UnixMicro()})
	if err != nil {
		return fmt.Errorf("cluster.State.SetProjectOwner: %w", err)
	}
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	rev, err := s.projKV.Put(ctx, projectKey(projectID), b)
	if err != nil {
		return auditlog.StoreError(fmt.Errorf("cluster.State.SetProjectOwner: %w", err))
	}
	s.applyProject(localEntry{key: projectKey(projectID), value: b, rev: rev})
	return nil
}

// ProjectOwner returns the owner of a project, or ENotFound; a miss asks the bucket.
func (s *State) ProjectOwner(ctx context.Context, projectID string) (string, error) {
	if !auditlog.ValidRef(projectID) {
		return "", auditlog.Errorf(auditlog.ENotFound, "no such project")
	}
	s.mu.RLock()
	c, ok := s.owners[projectID]
	s.mu.RUnlock()
	if ok {
		return c.owner, nil
	}
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	e, err := kvGet(ctx, s.nc, s.projKV, projectKey(projectID))
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return "", auditlog.Errorf(auditlog.ENotFound, "no such project")
	} else if err != nil {
		return "", auditlog.StoreError(fmt.Errorf("cluster.State.ProjectOwner: %w", err))
	}
	s.applyProject(e)
	var r projectRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		return "", fmt.Errorf("cluster.State.ProjectOwner: %w", err)
	}
	return r.OwnerID, nil
}

// OwnedProjects lists the projects the user owns, sorted (byte order).
func (s *State) OwnedProjects(userID string) []string {
	s.mu.RLock()
	out := make([]string, 0, len(s.byOwner[userID]))
	for id := range s.byOwner[userID] {
		out = append(out, id)
	}
	s.mu.RUnlock()
	slices.Sort(out)
	return out
}

// Secret returns the named secret, creating it with size random bytes the
// first time; every node gets the same bytes.
func (s *State) Secret(ctx context.Context, name string, size int) ([]byte, error) {
	if !secretNameRE.MatchString(name) || size <= 0 || size > 4096 {
		return nil, auditlog.Errorf(auditlog.EInvalid, "a secret has a name of 1-64 of A-Z a-z 0-9 _ - and 1-4096 bytes")
	}
	fresh := make([]byte, size)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("cluster.State.Secret: %w", err)
	}
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	key := "secret." + name
	if _, err := s.stateKV.Create(ctx, key, fresh); err == nil {
		return fresh, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, auditlog.StoreError(fmt.Errorf("cluster.State.Secret: %w", err))
	}
	e, err := kvGet(ctx, s.nc, s.stateKV, key)
	if err != nil {
		return nil, auditlog.StoreError(fmt.Errorf("cluster.State.Secret: %w", err))
	}
	return e.Value(), nil
}

// Ping reports EUnavailable unless the token bucket's stream leader (which
// needs its replicas' quorum to exist) answers before ctx ends.
func (s *State) Ping(ctx context.Context) error {
	ctx, cancel := withDefaultDeadline(ctx, callTimeout)
	defer cancel()
	if _, err := s.tokensKV.Status(ctx); err != nil {
		return fmt.Errorf("cluster.State.Ping: %w: %w", auditlog.Errorf(auditlog.EUnavailable, "no NATS JetStream quorum answers; retry"), err)
	}
	return nil
}

// Close stops the watches; the NATS connection stays the caller's. It does
// not wait for the server to delete the watches' consumers (which takes a
// request timeout when NATS is unreachable); the server drops them anyway.
func (s *State) Close() {
	s.closed.Do(func() {
		if s.unwatch != nil {
			s.unwatch() // each watch's subscription ends with its context
		}
		s.wg.Wait()
	})
}

// withDefaultDeadline gives ctx a deadline d from now unless it has one.
func withDefaultDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// localEntry is a write this node just made, folded into the cache like a watched update.
type localEntry struct {
	jetstream.KeyValueEntry
	key   string
	value []byte
	rev   uint64
}

func (e localEntry) Key() string                     { return e.key }
func (e localEntry) Value() []byte                   { return e.value }
func (e localEntry) Revision() uint64                { return e.rev }
func (e localEntry) Operation() jetstream.KeyValueOp { return jetstream.KeyValuePut }
