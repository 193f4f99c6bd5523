package cluster

import (
	"bytes"
	"context"
	"encoding/hex"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/cluster/natstest"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// connectURL opens a NATS connection to url, closed when the test ends.
func connectURL(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openState opens a State on nc, closed when the test ends.
func openState(t *testing.T, nc *nats.Conn, replicas int) *State {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s, err := OpenState(ctx, nc, StateOptions{Replicas: replicas})
	if err != nil {
		t.Fatalf("OpenState: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func code(err error) string {
	if err == nil {
		return "ok"
	}
	return auditlog.ErrorCode(err)
}

// eventually polls cond every 10ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// TestTokensAreSharedAndRevokedEverywhere creates a token through one node
// of a 3-node NATS cluster, uses it through another, revokes it on the first
// and requires the second to refuse it within a second.
func TestTokensAreSharedAndRevokedEverywhere(t *testing.T) {
	c := natstest.Start(t, 3)
	a := openState(t, connectURL(t, c.URL(0)), 3)
	b := openState(t, connectURL(t, c.URL(1)), 3)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)

	secret, tok, err := auditlog.NewToken(auditlog.UserToken, "user_ana", now)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken: %v", err)
	}
	// Found on the other node at once (the watch, or a bucket read on a miss).
	got, err := auditlog.Authenticate(ctx, b, secret)
	if err != nil || got.ID != tok.ID || got.UserID != "user_ana" || got.Kind != auditlog.UserToken ||
		!got.CreatedAt.Equal(now.Truncate(time.Microsecond)) || got.Hash != tok.Hash {
		t.Fatalf("Authenticate on node b = %+v, %v", got, err)
	}
	if err := b.CreateToken(ctx, tok); code(err) != auditlog.EConflict {
		t.Fatalf("duplicate id: %v, want conflict", err)
	}
	// The bucket holds the hash in hex, never the secret.
	kv, _ := mustJS(t, connectURL(t, c.URL(2))).KeyValue(ctx, TokenBucket)
	raw, err := kv.Get(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw.Value(), []byte(secret)) || !bytes.Contains(raw.Value(), []byte(hex.EncodeToString(tok.Hash[:]))) {
		t.Fatalf("stored token record %s: want the hex hash and no secret", raw.Value())
	}

	_, older, _ := auditlog.NewToken(auditlog.WriterToken, "", now.Add(-time.Hour))
	if err := b.CreateToken(ctx, older); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "node a lists both tokens", func() bool {
		l, _ := a.ListTokens(ctx)
		return len(l) == 2
	})
	list, _ := a.ListTokens(ctx)
	if list[0].ID != older.ID || list[1].ID != tok.ID {
		t.Fatalf("ListTokens not oldest first: %v", list)
	}

	// Revoked on a, refused on b within a second (b has it cached: the watch must carry the revocation).
	revokedAt := now.Add(time.Minute)
	if err := a.RevokeToken(ctx, tok.ID, revokedAt); err != nil {
		t.Fatalf("RevokeToken: %v", err)
	}
	took := eventually(t, time.Second, "node b refuses the revoked token", func() bool {
		_, err := auditlog.Authenticate(ctx, b, secret)
		return code(err) == auditlog.EUnauthorized
	})
	t.Logf("revocation visible on the other node after %s", took)
	if err := b.RevokeToken(ctx, tok.ID, revokedAt.Add(time.Hour)); err != nil {
		t.Fatalf("second revocation: %v", err)
	}
	got, _ = b.TokenByID(ctx, tok.ID)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(revokedAt.Truncate(time.Microsecond)) {
		t.Fatalf("revoking twice must keep the first time: %v", got.RevokedAt)
	}
	if err := a.RevokeToken(ctx, "nosuchid", now); code(err) != auditlog.ENotFound {
		t.Fatalf("revoke unknown: %v", err)
	}
	for _, id := range []string{"nosuchid", "../bad key*", ""} {
		if _, err := b.TokenByID(ctx, id); code(err) != auditlog.ENotFound {
			t.Fatalf("TokenByID(%q): %v", id, err)
		}
	}
	// A node started later loads the current values before OpenState returns.
	late := openState(t, connectURL(t, c.URL(2)), 3)
	got, err = late.TokenByID(ctx, tok.ID)
	if err != nil || got.RevokedAt == nil {
		t.Fatalf("late node: %+v, %v", got, err)
	}
	if l, _ := late.ListTokens(ctx); len(l) != 2 {
		t.Fatalf("late node lists %d tokens", len(l))
	}
}

func mustJS(t *testing.T, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestSecretsAndOwnersAreShared checks that two nodes get the same secret
// bytes (even when both create it at once) and see each other's project owners.
func TestSecretsAndOwnersAreShared(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openState(t, connectURL(t, c.URL(0)), 1)
	b := openState(t, connectURL(t, c.URL(0)), 1)
	ctx := context.Background()

	var wg sync.WaitGroup
	got := make([][]byte, 2)
	for i, s := range []*State{a, b} {
		wg.Go(func() {
			v, err := s.Secret(ctx, "cursor", 32)
			if err != nil {
				t.Errorf("Secret: %v", err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	if len(got[0]) != 32 || !bytes.Equal(got[0], got[1]) {
		t.Fatalf("secrets differ: %x %x", got[0], got[1])
	}
	again, _ := b.Secret(ctx, "cursor", 32)
	other, _ := a.Secret(ctx, "web-session", 32)
	if !bytes.Equal(again, got[0]) || bytes.Equal(other, got[0]) {
		t.Fatalf("a secret must stay the same and differ from other names")
	}
	if _, err := a.Secret(ctx, "bad name*", 32); code(err) != auditlog.EInvalid {
		t.Fatalf("bad secret name: %v", err)
	}

	proj := "proj/with spaces ü=+"
	if _, err := b.ProjectOwner(ctx, proj); code(err) != auditlog.ENotFound {
		t.Fatalf("unknown project: %v", err)
	}
	if err := a.SetProjectOwner(ctx, proj, "user_olga"); err != nil {
		t.Fatal(err)
	}
	if owner, err := b.ProjectOwner(ctx, proj); owner != "user_olga" || err != nil {
		t.Fatalf("ProjectOwner on b = %q, %v", owner, err)
	}
	if err := a.SetProjectOwner(ctx, "proj_a", "user_olga"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "b lists olga's projects", func() bool {
		return slices.Equal(b.OwnedProjects("user_olga"), []string{"proj/with spaces ü=+", "proj_a"})
	})
	if err := b.SetProjectOwner(ctx, proj, "user_bob"); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "a sees the new owner", func() bool {
		owner, _ := a.ProjectOwner(ctx, proj)
		return owner == "user_bob" && slices.Equal(a.OwnedProjects("user_olga"), []string{"proj_a"}) &&
			slices.Equal(a.OwnedProjects("user_bob"), []string{proj})
	})
	if err := a.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// TestStateUnavailableWithoutNATS kills the only NATS node: Ping and token
// lookups answer EUnavailable (a cut-off node must not trust its cache, which
// could miss a revocation), never success or an internal error; Close does
// not hang.
func TestStateUnavailableWithoutNATS(t *testing.T) {
	c := natstest.Start(t, 1)
	nc := connectURL(t, c.URL(0))
	s := openState(t, nc, 1)
	ctx := context.Background()
	_, tok, _ := auditlog.NewToken(auditlog.UserToken, "user_ana", time.Now())
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	c.Kill(0)
	eventually(t, 5*time.Second, "the client notices", func() bool { return !nc.IsConnected() })
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := s.Ping(short); code(err) != auditlog.EUnavailable {
		t.Fatalf("Ping without NATS: %v", err)
	}
	short2, cancel2 := context.WithTimeout(ctx, time.Second)
	defer cancel2()
	if _, err := s.TokenByID(short2, tok.ID); code(err) != auditlog.EUnavailable {
		t.Fatalf("TokenByID without NATS: %v", err)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close without NATS took %s", d)
	}
}

// TestUnknownTokenIsRememberedBriefly: a well-formed but unknown token id
// is looked up in the bucket once and then answered from memory for a
// moment (a flood of made-up tokens is not a flood of NATS reads), yet a
// token made with that id on another node authenticates at once: the watch
// that brings it clears the remembered miss.
func TestUnknownTokenIsRememberedBriefly(t *testing.T) {
	c := natstest.Start(t, 1)
	a := openState(t, connectURL(t, c.URL(0)), 1)
	b := openState(t, connectURL(t, c.URL(0)), 1)
	ctx := context.Background()
	secret, tok, err := auditlog.NewToken(auditlog.UserToken, "user_bia", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TokenByID(ctx, tok.ID); code(err) != auditlog.ENotFound {
		t.Fatalf("an unknown id: %v, want not found", err)
	}
	if !b.missedRecently(tok.ID) {
		t.Fatal("the miss is not remembered: every request with a made-up token would read the bucket")
	}
	if err := a.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "node b authenticates the token made on node a", func() bool {
		_, err := auditlog.Authenticate(ctx, b, secret)
		return err == nil
	})
	if b.missedRecently(tok.ID) {
		t.Fatal("the token arrived but its miss is still remembered")
	}
}

// TestStaleTokenCacheIsNotTrusted: when the watch falls behind the bucket
// (its consumer restarting after a NATS node's loss), the cache stops being
// trusted within about a second and lookups read the bucket, so a revoked
// token is refused even though the cache still holds it unrevoked.
func TestStaleTokenCacheIsNotTrusted(t *testing.T) {
	c := natstest.Start(t, 1)
	s := openState(t, connectURL(t, c.URL(0)), 1)
	ctx := context.Background()
	secret, tok, err := auditlog.NewToken(auditlog.UserToken, "user_caio", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeToken(ctx, tok.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Second, "the revocation reaches the cache", func() bool {
		_, err := auditlog.Authenticate(ctx, s, secret)
		return code(err) == auditlog.EUnauthorized
	})
	// Make the cache stale: it holds the token unrevoked, and the watch is
	// behind the bucket by every revision.
	s.mu.Lock()
	cached := s.tokens[tok.ID]
	cached.t.RevokedAt = nil
	s.tokens[tok.ID] = cached
	s.mu.Unlock()
	s.seen.Store(0)
	eventually(t, 2*time.Second, "a stale cache stops being trusted", func() bool {
		_, err := auditlog.Authenticate(ctx, s, secret)
		return code(err) == auditlog.EUnauthorized
	})
}
