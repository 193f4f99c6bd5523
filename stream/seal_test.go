package stream_test

import (
	"bytes"
	"testing"

	"github.com/guaracloud/auditlog/stream"
)

func TestSealer(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	s, err := stream.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("whsec_abc")
	a, err := s.Seal("str_1", secret)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := s.Seal("str_1", secret)
	if bytes.Equal(a, b) || bytes.Contains(a, secret) {
		t.Fatal("sealing is not randomized, or shows the plaintext")
	}
	if got, err := s.Open("str_1", a); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := stream.NewSealer(bytes.Repeat([]byte{8}, 32))
	tampered := bytes.Clone(a)
	tampered[len(tampered)-1] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"OtherStream": func() ([]byte, error) { return s.Open("str_2", a) },
		"OtherKey":    func() ([]byte, error) { return other.Open("str_1", a) },
		"Tampered":    func() ([]byte, error) { return s.Open("str_1", tampered) },
		"Short":       func() ([]byte, error) { return s.Open("str_1", a[:5]) },
	} {
		if got, err := open(); err == nil || got != nil {
			t.Errorf("%s: opened (%q, %v)", name, got, err)
		}
	}
	if _, err := stream.NewSealer(key[:16]); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}
