// Package witness holds both sides of C2SP tlog-witness: the service's
// (it submits our checkpoints to witnesses, keeps the C2SP tlog-cosignature
// lines they return, serves checkpoints with them and checks them in
// exports) and a minimal witness of our log that a customer runs (Server,
// `auditlog witness`).
package witness

import (
	"crypto"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note key type of tlog-cosignature/v1 keys.
const algCosignatureV1 = 0x04

// Witness is one configured witness: where to submit checkpoints and the key
// its cosignatures are checked with.
type Witness struct {
	Name     string        // the key name from the verifier key (also the metric label and the stored witness column)
	URL      string        // the witness's base URL; checkpoints go to URL + "/add-checkpoint"
	Verifier note.Verifier // checks its cosignatures
}

// NewVerifier parses a witness's verifier key, name+hash+base64(0x04 ||
// Ed25519 public key) (C2SP signed-note, tlog-cosignature/v1), into a
// verifier of its cosignatures.
func NewVerifier(vkey string) (note.Verifier, error) {
	vkey = strings.TrimSpace(vkey)
	name, rest, ok1 := strings.Cut(vkey, "+")
	hash16, key64, ok2 := strings.Cut(rest, "+")
	hash, err1 := strconv.ParseUint(hash16, 16, 32)
	key, err2 := base64.StdEncoding.Strict().DecodeString(key64)
	if !ok1 || !ok2 || len(hash16) != 8 || err1 != nil || err2 != nil || name == "" {
		return nil, errors.New("witness key: want name+hash+base64 (a C2SP signed-note verifier key)")
	}
	if len(key) != 1+ed25519.PublicKeySize || key[0] != algCosignatureV1 {
		return nil, errors.New("witness key: not a tlog-cosignature/v1 key (type 0x04, Ed25519)")
	}
	s, err := torchwood.NewCosignatureSigner(name, publicOnly(key[1:]))
	if err != nil {
		return nil, fmt.Errorf("witness key: %w", err)
	}
	if s.KeyHash() != uint32(hash) {
		return nil, fmt.Errorf("witness key: the hash %s does not match the name and key", hash16)
	}
	return s.Verifier(), nil
}

// publicOnly is an Ed25519 public key as a crypto.Signer that cannot sign,
// so that torchwood's cosignature verifier can be built from a verifier key.
type publicOnly ed25519.PublicKey

func (p publicOnly) Public() crypto.PublicKey { return ed25519.PublicKey(p) }

func (p publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("witness key: a verifier key cannot sign")
}

// ParseWitness reads a --witness flag value, URL=VKEY: the witness's base
// URL (http or https) and its verifier key.
func ParseWitness(value string) (Witness, error) {
	// The key holds no '=' (33 bytes are 44 base64 characters without
	// padding); a URL may, in its query.
	i := strings.LastIndex(value, "=")
	if i < 0 {
		return Witness{}, errors.New("witness: want URL=VKEY (the witness's URL and its verifier key)")
	}
	raw, vkey := value[:i], value[i+1:]
	v, err := NewVerifier(vkey)
	if err != nil {
		return Witness{}, err
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Witness{}, fmt.Errorf("witness %s: the URL must be http:// or https:// with a host", v.Name())
	}
	return Witness{Name: v.Name(), URL: strings.TrimSuffix(raw, "/"), Verifier: v}, nil
}
