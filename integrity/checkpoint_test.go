package integrity_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/internal/memlog"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

const origin = integrity.OriginPrefix + "0123456789abcdef"

func mustKey(t testing.TB) *integrity.Key {
	t.Helper()
	k, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCheckpointIsAC2SPSignedNote(t *testing.T) {
	k := mustKey(t)
	sum := sha256.Sum256([]byte("\x00x")) // RFC 6962 leaf hash, computed by hand
	root := sum[:]
	if !bytes.Equal(integrity.LeafHash([]byte("x")), root) {
		t.Fatal("LeafHash is not SHA-256(0x00 || bytes)")
	}
	cp, err := integrity.SignCheckpoint(k, origin, integrity.Head{Size: 42, Root: root}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Independently: the x/mod note package with the published verifier key.
	v, err := note.NewVerifier(k.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(cp.Note, note.VerifierList(v))
	if err != nil {
		t.Fatal(err)
	}
	want := origin + "\n42\n" + base64.StdEncoding.EncodeToString(root) + "\n"
	if n.Text != want || n.Sigs[0].Name != origin {
		t.Fatalf("note text %q, want %q (signed by %s)", n.Text, want, n.Sigs[0].Name)
	}
	if !strings.HasPrefix(string(cp.Note), want+"\n— "+origin+" ") {
		t.Fatalf("not the C2SP layout:\n%s", cp.Note)
	}
	gotOrigin, opened, err := integrity.OpenCheckpoint(cp.Note, v)
	if err != nil || gotOrigin != origin || opened.Size != 42 || !bytes.Equal(opened.Root, root) {
		t.Fatalf("open: %v %s %+v", err, gotOrigin, opened)
	}
	forged := bytes.Replace(cp.Note, []byte("\n42\n"), []byte("\n43\n"), 1)
	if _, _, err := integrity.OpenCheckpoint(forged, v); err == nil {
		t.Fatal("a checkpoint with another size verified")
	}
	other := mustKey(t)
	if _, _, err := integrity.OpenCheckpoint(cp.Note, other.Verifier()); err == nil || !strings.Contains(err.Error(), "no signature by key") {
		t.Fatalf("another key: %v", err)
	}
}

func TestParseCheckpointBody(t *testing.T) {
	root := "zDdgqSEFhKW9VvU4VJPN2U5yAX3k1UZRpwJ6bWaL7d8="
	if _, h, err := integrity.ParseCheckpointBody("o\n7\n" + root + "\nextension line\n"); err != nil || h.Size != 7 {
		t.Fatalf("extension lines: %v", err)
	}
	for _, bad := range []string{"", "o\n7\n" + root, "\n7\n" + root + "\n", "o\n07\n" + root + "\n",
		"o\n-1\n" + root + "\n", "o\nx\n" + root + "\n", "o\n7\nAAAA\n", "o\n7\n"} {
		if _, _, err := integrity.ParseCheckpointBody(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "audit.db.signing-key")
	k, created, err := integrity.LoadOrCreateKey(path, origin)
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	again, created, err := integrity.LoadOrCreateKey(path, "another-name")
	if err != nil || created || again.VerifierKey() != k.VerifierKey() {
		t.Fatalf("reload: %v %v", created, err)
	}
	if k.Name() != origin || !strings.HasPrefix(k.VerifierKey(), origin+"+") {
		t.Fatalf("verifier key %q", k.VerifierKey())
	}
	vpath := filepath.Join(t.TempDir(), "key.pub")
	os.WriteFile(vpath, []byte(k.VerifierKey()+"\n"), 0o644)
	for _, given := range []string{vpath, k.VerifierKey()} {
		v, err := integrity.ParseVerifierKey(given)
		if err != nil || v.Name() != origin || v.KeyHash() != k.Verifier().KeyHash() {
			t.Fatalf("verifier key from %q: %v", given, err)
		}
	}
	if _, err := integrity.ParseVerifierKey(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("a missing file is a key")
	}
	os.WriteFile(path, []byte("PRIVATE+KEY+garbage\n"), 0o600)
	if _, _, err := integrity.LoadOrCreateKey(path, origin); err == nil {
		t.Fatal("a damaged key file loaded (or was replaced)")
	}
}

// appendN appends n entries by actor to the log.
func appendN(t testing.TB, l *memlog.Log, actor string, n int) []auditlog.Entry {
	t.Helper()
	es := make([]auditlog.Entry, n)
	for i := range es {
		es[i] = auditlog.Entry{ID: "e" + time.Now().Format("150405.000000000") + string(rune('a'+i%26)), Action: "service.update",
			ResourceType: "service", ResourceID: "svc", ActorID: actor, Outcome: auditlog.Success,
			OccurredAt: time.Date(2026, 11, 25, 12, 0, i, 0, time.UTC), Metadata: map[string]any{"i": i}}
	}
	out, err := l.Append(es...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	l := memlog.New()
	k := mustKey(t)
	c := integrity.NewCheckpointer(l, k, origin, nil)
	if _, err := c.Latest(ctx); auditlog.ErrorCode(err) != auditlog.ENotFound {
		t.Fatalf("latest of none: %v", err)
	}
	cp, err := c.Checkpoint(ctx)
	if err != nil || cp.Size != 0 || !bytes.Equal(cp.Root, integrity.EmptyRoot()) {
		t.Fatalf("empty log: %+v %v", cp, err)
	}

	// Writers and checkpoints race: every checkpoint is consistent with the one before.
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				appendN(t, l, "usr_"+string(rune('a'+w)), 3)
				if _, err := c.Checkpoint(ctx); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	last, _ := c.Checkpoint(ctx)
	if last.Size != 240 {
		t.Fatalf("last checkpoint size %d, want 240", last.Size)
	}
	if again, _ := c.Checkpoint(ctx); !bytes.Equal(again.Note, last.Note) {
		t.Fatal("a tree that did not grow was signed again")
	}
	history, _ := l.Checkpoints(ctx, 0, 1000)
	for i := 1; i < len(history); i++ {
		a, b := history[i-1], history[i]
		if a.Size >= b.Size {
			t.Fatalf("sizes do not grow: %d then %d", a.Size, b.Size)
		}
		p, err := integrity.ConsistencyProof(ctx, l, a.Size, b.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := integrity.VerifyConsistency(a.Size, b.Size, p, a.Root, b.Root); err != nil {
			t.Fatal(err)
		}
	}

	// A damaged node table makes the new head unprovable: nothing is signed.
	appendN(t, l, "usr_a", 5)
	l.SetNode(compact.NewNodeID(7, 0), integrity.LeafHash([]byte("forged")))
	if _, err := c.Checkpoint(ctx); err == nil || !strings.Contains(err.Error(), "refusing to sign") {
		t.Fatalf("signed over a damaged tree: %v", err)
	}
	if now, _ := c.Latest(ctx); now.Size != last.Size {
		t.Fatalf("latest is %d after a refusal", now.Size)
	}
}

func TestCheckpointerRun(t *testing.T) {
	l := memlog.New()
	c := integrity.NewCheckpointer(l, mustKey(t), origin, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx, 10*time.Millisecond, nil); close(done) }()
	appendN(t, l, "usr_a", 3)
	deadline := time.Now().Add(5 * time.Second)
	for {
		cp, err := c.Latest(ctx)
		if err == nil && cp.Size == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no checkpoint of size 3: %+v %v", cp, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if err := ctx.Err(); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestRecentAndCovering(t *testing.T) {
	ctx := context.Background()
	l := memlog.New()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	c := integrity.NewCheckpointer(l, mustKey(t), origin, func() time.Time { return now })
	appendN(t, l, "usr_a", 3)
	first, err := c.Recent(ctx, time.Second)
	if err != nil || first.Size != 3 {
		t.Fatalf("first: %d %v", first.Size, err)
	}
	appendN(t, l, "usr_a", 2)
	now = now.Add(500 * time.Millisecond)
	if cp, _ := c.Recent(ctx, time.Second); cp.Size != 3 {
		t.Fatalf("signed again within the interval: %d", cp.Size)
	}
	if cp, _ := c.Covering(ctx, 2); cp.Size != 3 {
		t.Fatalf("covering 2: signed %d although checkpoint 3 covers it", cp.Size)
	}
	if cp, _ := c.Covering(ctx, 5); cp.Size != 5 {
		t.Fatalf("covering 5: %d", cp.Size)
	}
	appendN(t, l, "usr_a", 1)
	now = now.Add(time.Second)
	if cp, _ := c.Recent(ctx, time.Second); cp.Size != 6 {
		t.Fatalf("after the interval: %d", cp.Size)
	}
	if _, err := c.Covering(ctx, 7); err == nil {
		t.Fatal("covering a leaf that is not committed")
	}
}
