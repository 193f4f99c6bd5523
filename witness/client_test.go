package witness_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/torchwood"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/witness"
	"golang.org/x/mod/sumdb/note"
)

// fakeWitness is a tlog-witness holding one log's tree head: a 409 for any
// other old size, a 422 for a bad proof, else a cosignature by signer.
type fakeWitness struct {
	t      *testing.T
	signer *torchwood.CosignatureSigner
	mu     sync.Mutex
	size   uint64
	root   []byte
	olds   []uint64 // the old sizes of the requests, in order
	bump   bool     // answer every request with a 409 for a size one larger than before
}

func newFakeWitness(t *testing.T, name string) (*fakeWitness, witness.Witness) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeWitness{t: t, signer: s}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	w, err := witness.ParseWitness(srv.URL + "=" + s.Verifier().String())
	if err != nil {
		t.Fatal(err)
	}
	return f, w
}

func (f *fakeWitness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	head, msg, _ := bytes.Cut(body, []byte("\n\n"))
	lines := strings.Split(string(head), "\n")
	old, err := strconv.ParseUint(strings.TrimPrefix(lines[0], "old "), 10, 64)
	if r.URL.Path != "/add-checkpoint" || err != nil {
		http.Error(rw, "bad request", http.StatusBadRequest)
		return
	}
	f.olds = append(f.olds, old)
	if f.bump {
		f.size++
	}
	if old != f.size || f.bump {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", f.size)
		return
	}
	_, err = note.Open(msg, unknownKeys{}) // no key known: the error holds the text
	var unverified *note.UnverifiedNoteError
	if !errorsAs(err, &unverified) {
		http.Error(rw, "bad note", http.StatusBadRequest)
		return
	}
	text := unverified.Note.Text
	_, h, err := integrity.ParseCheckpointBody(text)
	if err != nil {
		http.Error(rw, "bad checkpoint", http.StatusBadRequest)
		return
	}
	var proof [][]byte
	for _, l := range lines[1:] {
		p, _ := base64.StdEncoding.DecodeString(l)
		proof = append(proof, p)
	}
	if old > 0 {
		if err := integrity.VerifyConsistency(old, h.Size, proof, f.root, h.Root); err != nil {
			http.Error(rw, "bad proof", http.StatusUnprocessableEntity)
			return
		}
	}
	f.size, f.root = h.Size, h.Root
	signed, err := note.Sign(&note.Note{Text: text}, f.signer)
	if err != nil {
		f.t.Error(err)
		return
	}
	rw.Write(signed[bytes.LastIndex(signed, []byte("\n\n"))+2:])
}

type unknownKeys struct{}

func (unknownKeys) Verifier(name string, hash uint32) (note.Verifier, error) {
	return nil, &note.UnknownVerifierError{Name: name, KeyHash: hash}
}

// TestConflictRetry: a witness holding a size the submitter does not know
// answers 409 with it; the submitter retries once, from that size, with the
// consistency proof, and stores the cosignature.
func TestConflictRetry(t *testing.T) {
	st := openStore(t, "sqlite")
	origin := integrity.OriginPrefix + "4090000000000000"
	key, _, err := integrity.GenerateKey(origin)
	if err != nil {
		t.Fatal(err)
	}
	// The witness saw checkpoint 1 (from another server, say), not this process.
	plain := &submitting{ckpt: integrity.NewCheckpointer(st, key, origin, nil)}
	cp1 := plain.write(t, st, "usr_ana", 5)
	f, w := newFakeWitness(t, "witness.test/fake")
	f.size, f.root = cp1.Size, cp1.Root
	plain.write(t, st, "usr_ana", 7)

	s := startSubmitting(t, st, key, origin, w)
	cp2, err := st.LatestCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cosigned(t, st, cp2, w)
	f.mu.Lock()
	olds := fmt.Sprint(f.olds)
	f.mu.Unlock()
	if want := fmt.Sprintf("[0 %d]", cp1.Size); olds != want {
		t.Fatalf("old sizes sent: %s, want %s (old 0, then the size of the 409)", olds, want)
	}
	for _, reason := range []string{witness.ReasonConflict, witness.ReasonBadProof, witness.ReasonUnavailable} {
		if n := s.metrics.Failures(w.Name, reason); n != 0 {
			t.Errorf("%s failures: %v", reason, n)
		}
	}
	// The next checkpoint goes from the size now known, without a 409.
	cp3 := s.write(t, st, "usr_ana", 2)
	cosigned(t, st, cp3, w)
	f.mu.Lock()
	defer f.mu.Unlock()
	if last := f.olds[len(f.olds)-1]; last != cp2.Size {
		t.Fatalf("the third checkpoint was sent with old %d, want %d", last, cp2.Size)
	}
}

// TestConflictTwice: a second 409 in a row is a failure (reason conflict),
// not a loop.
func TestConflictTwice(t *testing.T) {
	st := openStore(t, "sqlite")
	origin := integrity.OriginPrefix + "4090000000000001"
	key, _, _ := integrity.GenerateKey(origin)
	f, w := newFakeWitness(t, "witness.test/moving")
	f.bump = true
	s := startSubmitting(t, st, key, origin, w)
	s.write(t, st, "usr_ana", 40)
	eventually(t, "a conflict failure", func() bool { return s.metrics.Failures(w.Name, witness.ReasonConflict) >= 1 })
}

// TestBadCosignature: an answer signed by another key than the configured
// one is refused and nothing is stored.
func TestBadCosignature(t *testing.T) {
	st := openStore(t, "sqlite")
	origin := integrity.OriginPrefix + "bad0000000000000"
	key, _, _ := integrity.GenerateKey(origin)
	_, w := newFakeWitness(t, "witness.test/liar")
	other, _ := newFakeWitness(t, "witness.test/liar") // same name, another key
	w.Verifier = other.signer.Verifier()
	s := startSubmitting(t, st, key, origin, w)
	cp := s.write(t, st, "usr_ana", 3)
	eventually(t, "a bad_cosignature failure", func() bool { return s.metrics.Failures(w.Name, witness.ReasonBadCosignature) >= 1 })
	if lines, err := st.Cosignatures(context.Background(), cp.Size); err != nil || len(lines) != 0 {
		t.Fatalf("stored %q (%v)", lines, err)
	}
}

// TestRejected maps each refusal status to its reason.
func TestRejected(t *testing.T) {
	for status, reason := range map[int]string{422: witness.ReasonBadProof, 403: witness.ReasonUnknownKey, 404: witness.ReasonUnknownLog, 400: witness.ReasonBadRequest, 503: witness.ReasonUnavailable} {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { http.Error(rw, "no\x1b[31m", status) }))
		_, w := newFakeWitness(t, "witness.test/x")
		w.URL = srv.URL
		c := witness.Client{Witness: w}
		_, err := c.AddCheckpoint(context.Background(), 0, nil, []byte("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— o AAAA\n"))
		var rej *witness.RejectedError
		if !errorsAs(err, &rej) || rej.Status != status || rej.Reason != reason || strings.ContainsRune(rej.Detail, 0x1b) {
			t.Errorf("status %d: %#v, want reason %s and a printable detail", status, err, reason)
		}
		srv.Close()
	}
}
