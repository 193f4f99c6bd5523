package witness_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/guaracloud/auditlog/witness"
	"golang.org/x/mod/sumdb/note"
)

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func TestParseWitness(t *testing.T) {
	_, w := newFakeWitness(t, "witness.test/p")
	vkey := w.Verifier.(interface{ String() string }).String()
	t.Run("OK", func(t *testing.T) {
		got, err := witness.ParseWitness("https://w.example/sub/?a=b=" + vkey)
		if err != nil || got.URL != "https://w.example/sub/?a=b" || got.Name != "witness.test/p" {
			t.Fatalf("%+v %v", got, err)
		}
	})
	bad := map[string]string{
		"no key":        "https://w.example",
		"ed25519 key":   "https://w.example=" + "name+12345678+AQ" + strings.Repeat("A", 42),
		"hash mismatch": "https://w.example=" + strings.Replace(vkey, "+", "+0", 1)[:len(vkey)],
		"ftp":           "ftp://w.example=" + vkey,
		"no host":       "http://=" + vkey,
	}
	for name, v := range bad {
		t.Run("Err/"+name, func(t *testing.T) {
			if _, err := witness.ParseWitness(v); err == nil {
				t.Fatalf("%q accepted", v)
			}
		})
	}
}

func TestAppendLines(t *testing.T) {
	msg := []byte("o\n1\nroot\n\n— us AAAA\n")
	got := witness.AppendLines(msg, []string{"— w1 BBBB", "— us AAAA", "", "— w2 CC\nDD"})
	if want := "o\n1\nroot\n\n— us AAAA\n— w1 BBBB\n"; string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if string(msg) != "o\n1\nroot\n\n— us AAAA\n" {
		t.Fatal("the input was changed")
	}
}

// TestRequire: a cosigned checkpoint counts the witnesses that signed it,
// and the error names them.
func TestRequire(t *testing.T) {
	f1, w1 := newFakeWitness(t, "witness.test/one")
	_, w2 := newFakeWitness(t, "witness.test/two")
	text := "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"
	msg, err := note.Sign(&note.Note{Text: text}, f1.signer)
	if err != nil {
		t.Fatal(err)
	}
	vs := []note.Verifier{w1.Verifier, w2.Verifier}
	if got, err := witness.Require(msg, vs, 1); err != nil || len(got) != 1 || got[0] != "witness.test/one" {
		t.Fatalf("Require 1: %v %v", got, err)
	}
	_, err = witness.Require(msg, vs, 2)
	if err == nil || !strings.Contains(err.Error(), "1 of the 2 witnesses given cosigned") || !strings.Contains(err.Error(), "no valid cosignature: witness.test/two") {
		t.Fatalf("Require 2: %v", err)
	}
	// A cosignature over another text does not count.
	forged := append([]byte("o\n2\n"), msg[4:]...)
	if got, _ := witness.Count(forged, vs); len(got) != 0 {
		t.Fatalf("a cosignature of another checkpoint counted: %v", got)
	}
}
