package integrity

import (
	"bytes"
	"testing"
)

// TestDeriveKey: one master and name always give the same key, other names
// other keys, and a short master is refused.
func TestDeriveKey(t *testing.T) {
	master := bytes.Repeat([]byte{7}, 32)
	a, err := DeriveKey(master, "audit.example/shard-0")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := DeriveKey(master, "audit.example/shard-0")
	other, _ := DeriveKey(master, "audit.example/shard-1")
	if a.VerifierKey() != again.VerifierKey() {
		t.Fatal("same master and name gave two keys")
	}
	if a.VerifierKey() == other.VerifierKey() {
		t.Fatal("two names gave one key")
	}
	if a.Name() != "audit.example/shard-0" {
		t.Fatalf("name %q", a.Name())
	}
	sig, err := a.Sign("hello\n")
	if err != nil || len(sig) == 0 {
		t.Fatalf("sign: %v", err)
	}
	if _, err := DeriveKey(master[:16], "x"); err == nil {
		t.Fatal("a 16-byte master was accepted")
	}
}
