package integrity

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is an Ed25519 signed-note key: it signs checkpoints and export
// manifests, and publishes its verifier key.
type Key struct {
	signer   note.Signer
	verifier note.Verifier
	vkey     string
}

// ParseKey reads a private key in the signed-note format (PRIVATE+KEY+name+hash+base64).
func ParseKey(skey string) (*Key, error) {
	skey = strings.TrimSpace(skey)
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	// The verifier key is the private key's name, hash and public half.
	vkey, err := verifierKeyOf(skey)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("parse signing key: key hash does not match the key")
	}
	return &Key{signer: signer, verifier: verifier, vkey: vkey}, nil
}

// DeriveKey makes the Ed25519 key named name that a 32-byte (or longer)
// master secret determines: the seed is HMAC-SHA256(master, name), so each
// shard of a cluster has its own key while nodes share one secret.
func DeriveKey(master []byte, name string) (*Key, error) {
	if len(master) < 32 {
		return nil, errors.New("derive signing key: the master secret is shorter than 32 bytes")
	}
	mac := hmac.New(sha256.New, master)
	mac.Write([]byte(name))
	skey, _, err := note.GenerateKey(bytes.NewReader(mac.Sum(nil)), name)
	if err != nil {
		return nil, fmt.Errorf("derive signing key: %w", err)
	}
	return ParseKey(skey)
}

// GenerateKey makes a new Ed25519 key named name (the log's origin) and returns
// it with its private form, the text to keep in the key file.
func GenerateKey(name string) (*Key, string, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, "", fmt.Errorf("generate signing key: %w", err)
	}
	k, err := ParseKey(skey)
	if err != nil {
		return nil, "", err
	}
	return k, skey, nil
}

// LoadKey reads a private key file.
func LoadKey(path string) (*Key, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load signing key: %w", err)
	}
	k, err := ParseKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("load signing key %s: %w", path, err)
	}
	return k, nil
}

// LoadOrCreateKey reads the key file at path, or creates it (mode 0600, never
// replacing a file another process made first) with a new key named name.
func LoadOrCreateKey(path, name string) (k *Key, created bool, err error) {
	if k, err := LoadKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return k, false, err
	}
	k, skey, err := GenerateKey(name)
	if err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		k, err := LoadKey(path)
		return k, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("create signing key: %w", err)
	}
	_, werr := f.WriteString(skey + "\n")
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("create signing key: %w", err)
	}
	return k, true, nil
}

// Name returns the key's name, which appears on every signature line.
func (k *Key) Name() string { return k.signer.Name() }

// Signer returns the note signer.
func (k *Key) Signer() note.Signer { return k.signer }

// Verifier returns the note verifier of the key's public half.
func (k *Key) Verifier() note.Verifier { return k.verifier }

// VerifierKey returns the public key in the signed-note verifier-key format,
// name+hexkeyhash+base64(0x01||pubkey).
func (k *Key) VerifierKey() string { return k.vkey }

// Sign signs a note text (which must end with a newline).
func (k *Key) Sign(text string) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: text}, k.signer)
	if err != nil {
		return nil, fmt.Errorf("sign note: %w", err)
	}
	return msg, nil
}

// ParseVerifierKey reads a verifier key given as its text or as a file holding it.
func ParseVerifierKey(keyOrFile string) (note.Verifier, error) {
	text := strings.TrimSpace(keyOrFile)
	raw, ferr := os.ReadFile(keyOrFile)
	if ferr == nil {
		text = strings.TrimSpace(string(raw))
	}
	v, err := note.NewVerifier(text)
	if err != nil && ferr != nil {
		return nil, fmt.Errorf("verifier key: %q is neither a readable file (%w) nor a key (name+hash+base64)", keyOrFile, ferr)
	} else if err != nil {
		return nil, fmt.Errorf("verifier key %s: %w", keyOrFile, err)
	}
	return v, nil
}

// verifierKeyOf derives the verifier key of a private signed-note key.
func verifierKeyOf(skey string) (string, error) {
	// PRIVATE+KEY+name+hash+base64(alg || seed)
	parts := strings.SplitN(skey, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return "", errors.New("not a signed-note private key")
	}
	pub, err := ed25519Public(parts[4])
	if err != nil {
		return "", err
	}
	vkey, err := note.NewEd25519VerifierKey(parts[2], pub)
	if err != nil {
		return "", err
	}
	return vkey, nil
}

// ed25519Public returns the public key of a base64(0x01 || seed) private key.
func ed25519Public(b64 string) (ed25519.PublicKey, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return nil, errors.New("not an Ed25519 signed-note private key")
	}
	return ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey), nil
}
