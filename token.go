package auditlog

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"fmt"
	"strings"
	"time"
)

// TokenKind says what a token may do.
type TokenKind string

// The two kinds of token.
const (
	UserToken   TokenKind = "user"   // reads the entries of one user
	WriterToken TokenKind = "writer" // writes entries (the platform's interceptor); cannot read
)

// Token is a stored API token; the secret itself is never kept, only its SHA-256.
type Token struct {
	ID        string     `json:"id"`
	Kind      TokenKind  `json:"kind"`
	UserID    string     `json:"user_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	Hash      [32]byte   `json:"-"`
}

// TokenStore keeps tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// TokenByID returns the token with that id, revoked or not, or ENotFound.
	TokenByID(ctx context.Context, id string) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken marks the token revoked; ENotFound when there is no such token.
	RevokeToken(ctx context.Context, id string, at time.Time) error
}

var tokenEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// tokenPrefix maps a kind to the prefix of its secrets, so a leaked token is
// recognisable (and redacted by pattern) wherever it turns up.
var tokenPrefix = map[TokenKind]string{UserToken: "alu", WriterToken: "alw"}

// NewToken makes a token of the given kind: the secret to hand out once, and
// the Token record (with the secret's hash) to store.
func NewToken(kind TokenKind, userID string, now time.Time) (string, Token, error) {
	prefix, ok := tokenPrefix[kind]
	if !ok {
		return "", Token{}, Errorf(EInvalid, "unknown token kind %q", kind)
	}
	if kind == UserToken && !ValidRef(userID) {
		return "", Token{}, Errorf(EInvalid, "a user token needs a user id of 1-%d printable characters", MaxRefLen)
	}
	buf := make([]byte, 40)
	if _, err := rand.Read(buf); err != nil {
		return "", Token{}, fmt.Errorf("new token: %w", err)
	}
	id := tokenEncoding.EncodeToString(buf[:5])
	secret := prefix + "_" + id + "_" + tokenEncoding.EncodeToString(buf[5:])
	t := Token{ID: id, Kind: kind, CreatedAt: now.UTC(), Hash: sha256.Sum256([]byte(secret))}
	if kind == UserToken {
		t.UserID = userID
	}
	return secret, t, nil
}

// Authenticate finds the token a bearer secret belongs to and checks it in
// constant time. Unknown, malformed and revoked secrets are EUnauthorized.
func Authenticate(ctx context.Context, s TokenStore, secret string) (Token, error) {
	unauthorized := Errorf(EUnauthorized, "missing, unknown or revoked token")
	parts := strings.Split(secret, "_")
	if len(parts) != 3 || len(parts[1]) != 8 {
		return Token{}, unauthorized
	}
	t, err := s.TokenByID(ctx, parts[1])
	if ErrorCode(err) == ENotFound {
		return Token{}, unauthorized
	} else if err != nil {
		return Token{}, fmt.Errorf("authenticate: %w: %w", Errorf(EUnavailable, "the token store is unavailable; retry"), err)
	}
	h := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(h[:], t.Hash[:]) != 1 || t.RevokedAt != nil || tokenPrefix[t.Kind] != parts[0] {
		return Token{}, unauthorized
	}
	return t, nil
}
