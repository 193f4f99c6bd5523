package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"github.com/transparency-dev/merkle/compact"
	"golang.org/x/mod/sumdb/note"
)

const srvOrigin = integrity.OriginPrefix + "witness-test"

// srvTree is a log's history: the head at every size and the stored nodes
// that consistency proofs are built from.
type srvTree struct {
	heads []integrity.Head // heads[n] is the tree of n leaves
	nodes map[compact.NodeID][]byte
}

// newSrvTree builds the tree of the leaves, one leaf at a time.
func newSrvTree(t testing.TB, leaves ...string) *srvTree {
	t.Helper()
	tr := &srvTree{nodes: map[compact.NodeID][]byte{}}
	var st integrity.TreeState
	tr.heads = append(tr.heads, st.Head())
	for _, l := range leaves {
		next, nodes, err := st.Extend([][]byte{[]byte(l)})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			tr.nodes[n.ID] = n.Hash
		}
		st = next
		tr.heads = append(tr.heads, st.Head())
	}
	return tr
}

// srvLeaves returns n leaves named with a prefix.
func srvLeaves(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// Nodes implements integrity.NodeReader.
func (tr *srvTree) Nodes(_ context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for i, id := range ids {
		out[i] = tr.nodes[id]
	}
	return out, nil
}

// proof returns the consistency proof between two sizes of the tree.
func (tr *srvTree) proof(t testing.TB, from, to uint64) [][]byte {
	t.Helper()
	p, err := integrity.ConsistencyProof(context.Background(), tr, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// signed returns the tree's checkpoint at size n, signed by key.
func (tr *srvTree) signed(t testing.TB, key *integrity.Key, n uint64) []byte {
	t.Helper()
	c, err := integrity.SignCheckpoint(key, srvOrigin, tr.heads[n], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return c.Note
}

// addBody formats an add-checkpoint request body.
func addBody(old uint64, proof [][]byte, ckpt []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(ckpt)
	return b.Bytes()
}

// srvWitness is a witness server on a real HTTP listener.
type srvWitness struct {
	dir  string
	vkey string
	url  string
	http *httptest.Server
}

// mustInitWitness makes a witness directory for srvOrigin and logKey.
func mustInitWitness(t *testing.T, logKey *integrity.Key) (dir, vkey string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "w")
	vkey, err := witness.InitDir(dir, "witness.example/w1", srvOrigin, logKey.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	return dir, vkey
}

// startWitness serves the witness directory until the test ends (or stop).
func startWitness(t *testing.T, dir string) *srvWitness {
	t.Helper()
	s, err := witness.OpenServer(dir, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &srvWitness{dir: dir, vkey: s.VerifierKey(), url: hs.URL, http: hs}
}

// mustWitness starts a witness of srvOrigin for a new log key.
func mustWitness(t *testing.T) (*integrity.Key, *srvWitness) {
	t.Helper()
	key := mustLogKey(t)
	dir, _ := mustInitWitness(t, key)
	return key, startWitness(t, dir)
}

type srvAnswer struct {
	status      int
	contentType string
	body        string
}

// add posts an add-checkpoint body.
func (w *srvWitness) add(t testing.TB, body []byte) srvAnswer {
	t.Helper()
	res, err := http.Post(w.url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return srvAnswer{status: res.StatusCode, contentType: res.Header.Get("Content-Type"), body: string(b)}
}

// mustAdd posts a body and fails unless the witness cosigned: the answer
// must be a cosignature by the witness's verifier key on the checkpoint.
func (w *srvWitness) mustAdd(t testing.TB, logKey *integrity.Key, body []byte, ckpt []byte) {
	t.Helper()
	a := w.add(t, body)
	if a.status != http.StatusOK {
		t.Fatalf("add-checkpoint: %d %s", a.status, a.body)
	}
	checkCosigned(t, w.vkey, logKey, ckpt, a.body)
}

// checkCosigned verifies the cosignature lines on the checkpoint with an
// independent tlog-cosignature/v1 verifier built from the printed key.
func checkCosigned(t testing.TB, vkey string, logKey *integrity.Key, ckpt []byte, sigs string) {
	t.Helper()
	if !strings.HasPrefix(sigs, "— ") || !strings.HasSuffix(sigs, "\n") {
		t.Fatalf("the answer is not signature lines: %q", sigs)
	}
	cv := srvCosigVerifier(t, vkey)
	n, err := note.Open(append(bytes.Clone(ckpt), sigs...), note.VerifierList(logKey.Verifier(), cv))
	if err != nil {
		t.Fatalf("cosigned checkpoint does not verify: %v", err)
	}
	found := false
	for _, s := range n.Sigs {
		if s.Name == cv.Name() && s.Hash == cv.KeyHash() {
			found = true
		}
	}
	if !found {
		t.Fatalf("no verified cosignature by %s in %q", vkey, sigs)
	}
}

// srvCosig verifies tlog-cosignature/v1 signatures (key type 0x04): Ed25519
// over "cosignature/v1\ntime T\n" + checkpoint, signature = time || sig.
type srvCosig struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
}

func srvCosigVerifier(t testing.TB, vkey string) *srvCosig {
	t.Helper()
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		t.Fatalf("verifier key %q is not name+hash+key", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		t.Fatalf("verifier key %q is not a cosignature/v1 Ed25519 key", vkey)
	}
	h := sha256.Sum256(append([]byte(parts[0]+"\n"), raw...))
	hash := binary.BigEndian.Uint32(h[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		t.Fatalf("verifier key %q: hash does not match", vkey)
	}
	return &srvCosig{name: parts[0], hash: hash, pub: raw[1:]}
}

func (v *srvCosig) Name() string    { return v.name }
func (v *srvCosig) KeyHash() uint32 { return v.hash }
func (v *srvCosig) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	m := fmt.Sprintf("cosignature/v1\ntime %d\n%s", ts, msg)
	return ts > 0 && ed25519.Verify(v.pub, []byte(m), sig[8:])
}

func mustLogKey(t testing.TB) *integrity.Key {
	t.Helper()
	k, _, err := integrity.GenerateKey(srvOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestWitnessCosignsConsistentCheckpoints(t *testing.T) {
	key := mustLogKey(t)
	dir, vkey := mustInitWitness(t, key)
	w := startWitness(t, dir)
	if w.vkey != vkey || !strings.HasPrefix(vkey, "witness.example/w1+") {
		t.Fatalf("server key %q, init printed %q", w.vkey, vkey)
	}
	tr := newSrvTree(t, srvLeaves("a", 20)...)

	c5 := tr.signed(t, key, 5)
	w.mustAdd(t, key, addBody(0, nil, c5), c5)
	c13 := tr.signed(t, key, 13)
	w.mustAdd(t, key, addBody(5, tr.proof(t, 5, 13), c13), c13)
	// The same checkpoint again (a log retrying after a lost answer) is cosigned again.
	w.mustAdd(t, key, addBody(13, nil, c13), c13)

	t.Run("ErrStaleOldSize", func(t *testing.T) {
		c20 := tr.signed(t, key, 20)
		a := w.add(t, addBody(5, tr.proof(t, 5, 20), c20))
		if a.status != http.StatusConflict || a.contentType != "text/x.tlog.size" || a.body != "13\n" {
			t.Fatalf("stale old size: %d %q %q, want 409 text/x.tlog.size 13", a.status, a.contentType, a.body)
		}
	})
	t.Run("ErrWrongProof", func(t *testing.T) {
		c20 := tr.signed(t, key, 20)
		p := tr.proof(t, 13, 20)
		p[0] = bytes.Repeat([]byte{7}, 32)
		if a := w.add(t, addBody(13, p, c20)); a.status != http.StatusUnprocessableEntity {
			t.Fatalf("wrong proof: %d %s, want 422", a.status, a.body)
		}
		if a := w.add(t, addBody(13, nil, c20)); a.status != http.StatusUnprocessableEntity {
			t.Fatalf("missing proof: %d %s, want 422", a.status, a.body)
		}
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		other := mustLogKey(t) // same name and origin, another key
		c20 := tr.signed(t, other, 20)
		if a := w.add(t, addBody(13, tr.proof(t, 13, 20), c20)); a.status != http.StatusForbidden {
			t.Fatalf("other key: %d %s, want 403", a.status, a.body)
		}
	})
	t.Run("ErrUnknownOrigin", func(t *testing.T) {
		stranger, _, err := integrity.GenerateKey("example.com/other")
		if err != nil {
			t.Fatal(err)
		}
		c, err := integrity.SignCheckpoint(stranger, "example.com/other", tr.heads[3], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if a := w.add(t, addBody(0, nil, c.Note)); a.status != http.StatusNotFound {
			t.Fatalf("unknown origin: %d %s, want 404", a.status, a.body)
		}
	})
	t.Run("ErrBadRequest", func(t *testing.T) {
		c20 := tr.signed(t, key, 20)
		c3 := tr.signed(t, key, 3)
		tooMany := make([][]byte, witness.MaxProofLines+1)
		for i := range tooMany {
			tooMany[i] = make([]byte, 32)
		}
		for name, body := range map[string][]byte{
			"old over new":         addBody(13, nil, c3),
			"no empty line":        []byte("old 13\n" + string(c20)),
			"leading zero":         []byte("old 013\n\n" + string(c20)),
			"proof not base64":     []byte("old 13\nnot-a-hash\n\n" + string(c20)),
			"too many proof lines": addBody(13, tooMany, c20),
			"not a note":           []byte("old 0\n\n" + srvOrigin + "\nhello\n"),
		} {
			if a := w.add(t, body); a.status != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", name, a.status, a.body)
			}
		}
		big := addBody(13, nil, append(bytes.Repeat([]byte("x"), witness.MaxAddCheckpointBody), c20...))
		if a := w.add(t, big); a.status != http.StatusRequestEntityTooLarge {
			t.Errorf("big body: %d, want 413", a.status)
		}
	})
	// After every refusal the witness still holds 13 and goes on from there.
	c20 := tr.signed(t, key, 20)
	w.mustAdd(t, key, addBody(13, tr.proof(t, 13, 20), c20), c20)
}

func TestWitnessRefusesAProofWithOldSizeZero(t *testing.T) {
	key, w := mustWitness(t)
	tr := newSrvTree(t, srvLeaves("a", 8)...)
	if a := w.add(t, addBody(0, tr.proof(t, 3, 8), tr.signed(t, key, 8))); a.status != http.StatusBadRequest {
		t.Fatalf("proof with old size 0: %d %s, want 400", a.status, a.body)
	}
}

func TestWitnessStateSurvivesARestart(t *testing.T) {
	key := mustLogKey(t)
	dir, vkey := mustInitWitness(t, key)
	tr := newSrvTree(t, srvLeaves("a", 12)...)
	w := startWitness(t, dir)
	c7 := tr.signed(t, key, 7)
	w.mustAdd(t, key, addBody(0, nil, c7), c7)
	w.http.Close()

	w = startWitness(t, dir)
	if w.vkey != vkey {
		t.Fatalf("key after restart %q, want %q", w.vkey, vkey)
	}
	c12 := tr.signed(t, key, 12)
	if a := w.add(t, addBody(0, nil, c12)); a.status != http.StatusConflict || a.body != "7\n" {
		t.Fatalf("after restart: %d %q, want 409 7", a.status, a.body)
	}
	w.mustAdd(t, key, addBody(7, tr.proof(t, 7, 12), c12), c12)
}

func TestWitnessRefusesAFork(t *testing.T) {
	key, w := mustWitness(t)
	honest := newSrvTree(t, srvLeaves("a", 16)...)
	// The fork shares the first 4 leaves, then rewrites history.
	fork := newSrvTree(t, append(srvLeaves("a", 4), srvLeaves("b", 12)...)...)
	c10 := honest.signed(t, key, 10)
	w.mustAdd(t, key, addBody(0, nil, c10), c10)

	// Same size, another root: a conflicting checkpoint.
	if a := w.add(t, addBody(10, nil, fork.signed(t, key, 10))); a.status != http.StatusConflict || a.contentType == "text/x.tlog.size" {
		t.Fatalf("fork at the held size: %d %q %q, want a 409 that is not a size", a.status, a.contentType, a.body)
	}
	// A larger fork, with the proof from the fork's own history.
	if a := w.add(t, addBody(10, fork.proof(t, 10, 16), fork.signed(t, key, 16))); a.status != http.StatusUnprocessableEntity {
		t.Fatalf("fork past the held size: %d %s, want 422", a.status, a.body)
	}
	ents, err := os.ReadDir(filepath.Join(w.dir, witness.EvidenceDirName))
	if err != nil || len(ents) != 2 {
		t.Fatalf("evidence kept: %v %v, want the 2 refused signed checkpoints", ents, err)
	}
	// The honest log goes on.
	c16 := honest.signed(t, key, 16)
	w.mustAdd(t, key, addBody(10, honest.proof(t, 10, 16), c16), c16)
}

func TestWitnessSerializesALog(t *testing.T) {
	key, w := mustWitness(t)
	tr := newSrvTree(t, srvLeaves("a", 30)...)
	c4 := tr.signed(t, key, 4)
	w.mustAdd(t, key, addBody(0, nil, c4), c4)

	// Many requests from size 4, to different sizes, at once: exactly one
	// wins, and every other one learns the size it cosigned.
	const n = 8
	answers := make([]srvAnswer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			size := uint64(10 + 2*i)
			answers[i] = w.add(t, addBody(4, tr.proof(t, 4, size), tr.signed(t, key, size)))
		})
	}
	wg.Wait()
	won := -1
	for i, a := range answers {
		if a.status == http.StatusOK {
			if won >= 0 {
				t.Fatalf("two requests from size 4 were cosigned: %d and %d", won, i)
			}
			won = i
		}
	}
	if won < 0 {
		t.Fatalf("no request was cosigned: %+v", answers)
	}
	held := strconv.Itoa(10+2*won) + "\n"
	for i, a := range answers {
		if i != won && (a.status != http.StatusConflict || a.body != held) {
			t.Errorf("request %d: %d %q, want 409 %q", i, a.status, a.body, held)
		}
	}
}

func TestInitDir(t *testing.T) {
	key := mustLogKey(t)
	dir, vkey := mustInitWitness(t, key)
	fi, err := os.Stat(filepath.Join(dir, witness.KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if strings.Contains(vkey, "PRIVATE") {
		t.Fatal("init returned the private key")
	}
	srvCosigVerifier(t, vkey)

	t.Run("Again", func(t *testing.T) {
		again, err := witness.InitDir(dir, "witness.example/w1", srvOrigin, key.VerifierKey())
		if err != nil || again != vkey {
			t.Fatalf("init again: %q %v, want the same key %q", again, err, vkey)
		}
	})
	t.Run("ErrOtherKeySameOrigin", func(t *testing.T) {
		if _, err := witness.InitDir(dir, "", srvOrigin, mustLogKey(t).VerifierKey()); err == nil {
			t.Fatal("init replaced the key of a witnessed origin")
		}
	})
	t.Run("ErrBadInput", func(t *testing.T) {
		if _, err := witness.InitDir(dir, "", srvOrigin, "not a key"); err == nil {
			t.Error("init took a malformed log key")
		}
		if _, err := witness.InitDir(dir, "", "", key.VerifierKey()); err == nil {
			t.Error("init took an empty origin")
		}
	})
	t.Run("SecondLog", func(t *testing.T) {
		other, _, err := integrity.GenerateKey("example.com/second")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := witness.InitDir(dir, "", "example.com/second", other.VerifierKey()); err != nil {
			t.Fatal(err)
		}
		w := startWitness(t, dir)
		tr := newSrvTree(t, srvLeaves("s", 3)...)
		c, err := integrity.SignCheckpoint(other, "example.com/second", tr.heads[3], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		w.mustAdd(t, other, addBody(0, nil, c.Note), c.Note)
		c2 := newSrvTree(t, srvLeaves("a", 2)...).signed(t, key, 2)
		w.mustAdd(t, key, addBody(0, nil, c2), c2)
	})
}

func TestOpenServerWithoutInit(t *testing.T) {
	if _, err := witness.OpenServer(t.TempDir(), nil, 0); err == nil {
		t.Fatal("opened a witness in an empty directory")
	}
}

func TestWitnessHealth(t *testing.T) {
	dir, vkey := mustInitWitness(t, mustLogKey(t))
	w := startWitness(t, dir)
	for path, want := range map[string]string{"/healthz": "ok", "/": vkey} {
		res, err := http.Get(w.url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d %q, want 200 with %q", path, res.StatusCode, b, want)
		}
	}
}

func FuzzParseAddCheckpoint(f *testing.F) {
	f.Add([]byte("old 0\n\norigin\n1\nAAAA\n\n— k sig\n"))
	f.Add([]byte("old 5\n" + strings.Repeat(base64.StdEncoding.EncodeToString(make([]byte, 32))+"\n", 3) + "\nx"))
	f.Add([]byte("old 18446744073709551616\n\nx"))
	f.Add([]byte("old -1\n\nx"))
	f.Add([]byte("\n\n"))
	f.Add([]byte("old 1\n" + base64.StdEncoding.EncodeToString(make([]byte, 32))[:20] + "\r" + base64.StdEncoding.EncodeToString(make([]byte, 32))[20:] + "\n\nx"))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := witness.ParseAddCheckpoint(body)
		if err != nil {
			return
		}
		if req.OldSize < 0 || len(req.Proof) > witness.MaxProofLines || len(req.Checkpoint) == 0 {
			t.Fatalf("parsed an invalid request: %+v", req)
		}
		// What was accepted is exactly what the client wrote.
		proof := make([][]byte, len(req.Proof))
		for i := range req.Proof {
			proof[i] = req.Proof[i][:]
		}
		if got := addBody(uint64(req.OldSize), proof, req.Checkpoint); !bytes.Equal(got, body) {
			t.Fatalf("reformatted %q, sent %q", got, body)
		}
	})
}
