package stream

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
)

// Sealer encrypts destination credentials at rest with AES-256-GCM: a random
// nonce per seal, and the stream id as additional data, so a sealed
// credential copied onto another stream does not open.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("stream.NewSealer: key of %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("stream.NewSealer: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("stream.NewSealer: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext for stream id: the nonce followed by the ciphertext.
func (s *Sealer) Seal(id string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(plaintext)+s.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("stream.Seal: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plaintext, []byte(id)), nil
}

// errSealed is what Open reports for anything that does not open; it never
// says more (no key or plaintext material in errors).
var errSealed = errors.New("stream.Open: the sealed credential does not open with this key for this stream")

// Open decrypts what Seal returned for the same stream id.
func (s *Sealer) Open(id string, sealed []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errSealed
	}
	out, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(id))
	if err != nil {
		return nil, errSealed
	}
	return out, nil
}
