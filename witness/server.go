package witness

// The witness server: a C2SP tlog-witness (https://c2sp.org/tlog-witness)
// that a customer runs for our log, or for several logs. It keeps, per
// origin, the size and root of the last checkpoint it cosigned, and cosigns a
// new checkpoint only when the log's key signed it and a consistency proof
// links it to that state. Its directory holds the witness key (0600) and a
// state file rewritten atomically (temp file, fsync, rename, fsync of the
// directory) before every answer.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"filippo.io/torchwood"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Files and limits of a witness server.
const (
	KeyFileName          = "witness.key"        // the witness's private key, mode 0600, in its directory
	StateFileName        = "witness-state.json" // the logs it witnesses and the last head it cosigned for each
	EvidenceDirName      = "evidence"           // refused requests that carried a valid log signature
	MaxAddCheckpointBody = 64 << 10             // the largest add-checkpoint body accepted (413 past it)
	MaxProofLines        = 63                   // the most consistency proof lines a request may carry (C2SP tlog-witness)
	DefaultWitnessName   = "auditlog-witness"   // the key name when init is given none
	maxEvidenceFiles     = 1000
	stateVersion         = 1
	cosignatureAlg       = 0x04 // tlog-cosignature/v1 key type in signed-note key hashes
)

// AddCheckpointRequest is a parsed C2SP tlog-witness add-checkpoint body.
type AddCheckpointRequest struct {
	OldSize    int64          // the size of the checkpoint the client believes the witness holds
	Proof      tlog.TreeProof // the consistency proof from OldSize to the checkpoint's size
	Checkpoint []byte         // the signed note, exactly as sent
}

// ParseAddCheckpoint reads an add-checkpoint body: "old N", up to
// MaxProofLines base64 hashes, an empty line, then the signed checkpoint.
func ParseAddCheckpoint(body []byte) (AddCheckpointRequest, error) {
	bad := func(format string, args ...any) (AddCheckpointRequest, error) {
		return AddCheckpointRequest{}, fmt.Errorf("parse add-checkpoint: "+format, args...)
	}
	head, ckpt, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return bad("no empty line before the checkpoint")
	}
	if len(ckpt) == 0 {
		return bad("no checkpoint after the empty line")
	}
	lines := strings.Split(string(head), "\n")
	sizeText, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return bad("the first line must be \"old <size>\"")
	}
	old, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || old < 0 || strconv.FormatInt(old, 10) != sizeText {
		return bad("old size %q is not a decimal number without leading zeros", truncate(sizeText))
	}
	if len(lines)-1 > MaxProofLines {
		return bad("%d consistency proof lines, at most %d", len(lines)-1, MaxProofLines)
	}
	proof := make(tlog.TreeProof, 0, len(lines)-1)
	for i, l := range lines[1:] {
		// 44 characters first: the decoder would skip a CR or LF inside the line.
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if len(l) != base64.StdEncoding.EncodedLen(tlog.HashSize) || err != nil || len(h) != tlog.HashSize {
			return bad("consistency proof line %d is not a base64 SHA-256 hash", i+1)
		}
		proof = append(proof, tlog.Hash(h))
	}
	return AddCheckpointRequest{OldSize: old, Proof: proof, Checkpoint: ckpt}, nil
}

// truncate shortens a client's text before it goes into an error message.
func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// InitDir prepares a witness directory for the log origin whose checkpoints
// the verifier key logKey signs: it makes the witness key (named name, or
// DefaultWitnessName) unless the directory has one, adds the log to the state
// file, and returns the witness's cosignature verifier key. Running it again
// with another origin adds that log; an origin already known with another key
// is refused, so its witnessed state is never reset.
func InitDir(dir, name, origin, logKey string) (string, error) {
	if name == "" {
		name = DefaultWitnessName
	}
	if origin == "" || strings.ContainsAny(origin, "\n") {
		return "", errors.New("witness init: the origin must be one non-empty line")
	}
	if _, err := note.NewVerifier(strings.TrimSpace(logKey)); err != nil {
		return "", fmt.Errorf("witness init: log key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("witness init: %w", err)
	}
	signer, err := loadOrCreateWitnessKey(filepath.Join(dir, KeyFileName), name)
	if err != nil {
		return "", fmt.Errorf("witness init: %w", err)
	}
	st, err := readState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		st = stateFile{Version: stateVersion, Logs: map[string]logRecord{}}
	} else if err != nil {
		return "", fmt.Errorf("witness init: %w", err)
	}
	vkey := strings.TrimSpace(logKey)
	if rec, ok := st.Logs[origin]; ok {
		if rec.Key != vkey {
			return "", fmt.Errorf("witness init: origin %q is already witnessed with key %s; refusing to replace it (its witnessed state would be lost)", origin, rec.Key)
		}
		return signer.Verifier().String(), nil
	}
	st.Logs[origin] = logRecord{Key: vkey}
	if err := writeState(dir, st); err != nil {
		return "", fmt.Errorf("witness init: %w", err)
	}
	return signer.Verifier().String(), nil
}

// loadOrCreateWitnessKey reads the witness key file, or creates it (0600).
func loadOrCreateWitnessKey(path, name string) (*torchwood.CosignatureSigner, error) {
	raw, err := os.ReadFile(path)
	if err == nil {
		return parseWitnessKey(string(raw))
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read witness key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate witness key: %w", err)
	}
	signer, err := torchwood.NewCosignatureSigner(name, priv)
	if err != nil {
		return nil, fmt.Errorf("generate witness key %q: %w", name, err)
	}
	text := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s\n", name, signer.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{cosignatureAlg}, priv.Seed()...)))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create witness key: %w", err)
	}
	_, werr := f.WriteString(text)
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("create witness key: %w", err)
	}
	return signer, nil
}

// parseWitnessKey reads PRIVATE+KEY+name+hash+base64(0x04||seed).
func parseWitnessKey(text string) (*torchwood.CosignatureSigner, error) {
	parts := strings.SplitN(strings.TrimSpace(text), "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("parse witness key: not a PRIVATE+KEY+name+hash+base64 key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != cosignatureAlg {
		return nil, errors.New("parse witness key: not an Ed25519 cosignature/v1 key")
	}
	signer, err := torchwood.NewCosignatureSigner(parts[2], ed25519.NewKeyFromSeed(raw[1:]))
	if err != nil {
		return nil, fmt.Errorf("parse witness key: %w", err)
	}
	if fmt.Sprintf("%08x", signer.KeyHash()) != parts[3] {
		return nil, errors.New("parse witness key: key hash does not match the key")
	}
	return signer, nil
}

// stateFile is the witness's persistent state.
type stateFile struct {
	Version int                  `json:"version"`
	Logs    map[string]logRecord `json:"logs"` // by origin
}

// logRecord is one witnessed log: its key and the last cosigned head (size 0
// and no root until the first cosignature).
type logRecord struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	Root []byte `json:"root,omitempty"`
}

// readState reads the state file of dir.
func readState(dir string) (stateFile, error) {
	raw, err := os.ReadFile(filepath.Join(dir, StateFileName))
	if err != nil {
		return stateFile{}, fmt.Errorf("read witness state: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(raw, &st); err != nil {
		return stateFile{}, fmt.Errorf("read witness state %s: %w", StateFileName, err)
	}
	if st.Version != stateVersion {
		return stateFile{}, fmt.Errorf("read witness state: version %d, this build reads %d", st.Version, stateVersion)
	}
	if st.Logs == nil {
		st.Logs = map[string]logRecord{}
	}
	return st, nil
}

// writeState replaces the state file atomically and durably: a temp file
// written and synced, renamed over the old one, then the directory synced.
func writeState(dir string, st stateFile) error {
	raw, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("write witness state: %w", err)
	}
	f, err := os.CreateTemp(dir, StateFileName+".tmp*")
	if err != nil {
		return fmt.Errorf("write witness state: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(append(raw, '\n'))
	if err := errors.Join(werr, f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write witness state: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, StateFileName)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write witness state: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("write witness state: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("write witness state: sync directory: %w", err)
	}
	return nil
}

// Server is a C2SP tlog-witness HTTP handler for the logs of its directory.
type Server struct {
	dir     string
	signer  *torchwood.CosignatureSigner
	logger  *slog.Logger
	handler http.Handler             // the routes behind the request timeout
	commit  chan struct{}            // held while the state file is written; guards every witnessedLog's head
	logs    map[string]*witnessedLog // read-only after OpenServer
}

// witnessedLog is one log's verifier and last cosigned head; turn serializes
// the requests for the log from the state check to the answer.
type witnessedLog struct {
	turn     chan struct{}
	key      string
	verifier note.Verifier
	size     int64
	root     []byte
}

// OpenServer loads the witness key and state of a directory made by InitDir.
// Requests time out after timeout (30 s when zero); logger may be nil.
func OpenServer(dir string, logger *slog.Logger, timeout time.Duration) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	raw, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		return nil, fmt.Errorf("open witness: %w (run auditlog witness init first)", err)
	}
	signer, err := parseWitnessKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("open witness: %w", err)
	}
	st, err := readState(dir)
	if err != nil {
		return nil, fmt.Errorf("open witness: %w", err)
	}
	s := &Server{dir: dir, signer: signer, logger: logger,
		commit: make(chan struct{}, 1), logs: map[string]*witnessedLog{}}
	for origin, rec := range st.Logs {
		v, err := note.NewVerifier(rec.Key)
		if err != nil {
			return nil, fmt.Errorf("open witness: key of %q: %w", origin, err)
		}
		if rec.Size < 0 || (rec.Root != nil && len(rec.Root) != tlog.HashSize) || (rec.Size > 0 && rec.Root == nil) {
			return nil, fmt.Errorf("open witness: state of %q is damaged", origin)
		}
		s.logs[origin] = &witnessedLog{turn: make(chan struct{}, 1), key: rec.Key, verifier: v, size: rec.Size, root: rec.Root}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", s.addCheckpoint)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "auditlog witness (C2SP tlog-witness: POST /add-checkpoint)\n%s\n", s.VerifierKey())
	})
	s.handler = http.TimeoutHandler(mux, timeout, "request timed out\n")
	return s, nil
}

// VerifierKey returns the witness's cosignature verifier key,
// name+hash+base64(0x04||public key).
func (s *Server) VerifierKey() string { return s.signer.Verifier().String() }

// Origins returns the origins of the logs the server witnesses.
func (s *Server) Origins() []string {
	out := make([]string, 0, len(s.logs))
	for o := range s.logs {
		out = append(out, o)
	}
	return out
}

// ServeHTTP serves POST /add-checkpoint, GET /healthz and GET /.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

// witnessError is a refusal with its HTTP status; its message is safe to send.
type witnessError struct {
	status int
	msg    string
	held   int64 // the held size, for a 409 that is a stale old size
	stale  bool
}

func (e *witnessError) Error() string { return e.msg }

func refuse(status int, format string, args ...any) *witnessError {
	return &witnessError{status: status, msg: fmt.Sprintf(format, args...)}
}

// addCheckpoint serves POST /add-checkpoint.
func (s *Server) addCheckpoint(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxAddCheckpointBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, fmt.Sprintf("body over %d bytes", MaxAddCheckpointBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	cosig, err := s.process(r.Context(), body)
	var we *witnessError
	switch {
	case err == nil:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(cosig)
	case errors.As(err, &we) && we.stale:
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", we.held)
	case errors.As(err, &we):
		http.Error(w, we.msg, we.status)
	default:
		s.logger.Error("witness: add-checkpoint failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
	}
}

// process checks one add-checkpoint request, persists the new head and
// returns the cosignature lines.
func (s *Server) process(ctx context.Context, body []byte) ([]byte, error) {
	req, err := ParseAddCheckpoint(body)
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "%v", err)
	}
	origin, _, _ := strings.Cut(string(req.Checkpoint), "\n")
	l, ok := s.logs[origin]
	if !ok {
		return nil, refuse(http.StatusNotFound, "unknown log origin")
	}
	n, err := note.Open(req.Checkpoint, note.VerifierList(l.verifier))
	var unverified *note.UnverifiedNoteError
	var invalid *note.InvalidSignatureError
	switch {
	case errors.As(err, &unverified) || errors.As(err, &invalid):
		return nil, refuse(http.StatusForbidden, "no valid signature by the log's key")
	case err != nil:
		return nil, refuse(http.StatusBadRequest, "malformed signed note: %v", err)
	}
	c, err := torchwood.ParseCheckpoint(n.Text)
	if err != nil || c.Origin != origin {
		return nil, refuse(http.StatusBadRequest, "malformed checkpoint")
	}
	if req.OldSize > c.N {
		return nil, refuse(http.StatusBadRequest, "old size %d is over the checkpoint size %d", req.OldSize, c.N)
	}
	select {
	case l.turn <- struct{}{}:
		defer func() { <-l.turn }()
	case <-ctx.Done():
		return nil, refuse(http.StatusServiceUnavailable, "request timed out waiting for the log's previous request")
	}
	if req.OldSize != l.size {
		return nil, &witnessError{status: http.StatusConflict, stale: true, held: l.size, msg: "stale old size"}
	}
	switch {
	case req.OldSize == c.N:
		if l.root != nil && !bytes.Equal(l.root, c.Hash[:]) {
			s.keepEvidence(origin, body)
			s.logger.Warn("witness: refused a checkpoint conflicting with the one cosigned at the same size", "origin", origin, "size", c.N)
			return nil, refuse(http.StatusConflict, "conflicting checkpoint: another root was cosigned at size %d", c.N)
		}
	case req.OldSize == 0:
		if len(req.Proof) != 0 {
			return nil, refuse(http.StatusBadRequest, "the consistency proof must be empty when the old size is 0")
		}
	default:
		if err := tlog.CheckTree(req.Proof, c.N, c.Hash, l.size, tlog.Hash(l.root)); err != nil {
			s.keepEvidence(origin, body)
			s.logger.Warn("witness: refused a checkpoint whose consistency proof does not verify", "origin", origin, "old", l.size, "size", c.N)
			return nil, refuse(http.StatusUnprocessableEntity, "the consistency proof from size %d does not verify", l.size)
		}
	}
	if err := s.persist(l, origin, c.N, c.Hash[:]); err != nil {
		return nil, err
	}
	signed, err := note.Sign(&note.Note{Text: n.Text}, s.signer)
	if err != nil {
		return nil, fmt.Errorf("cosign: %w", err)
	}
	i := bytes.LastIndex(signed, []byte("\n\n"))
	return signed[i+2:], nil
}

// persist writes the state with l's new head, then sets it in memory. The
// caller holds l's turn.
func (s *Server) persist(l *witnessedLog, origin string, size int64, root []byte) error {
	s.commit <- struct{}{}
	defer func() { <-s.commit }()
	st := stateFile{Version: stateVersion, Logs: make(map[string]logRecord, len(s.logs))}
	for o, other := range s.logs {
		st.Logs[o] = logRecord{Key: other.key, Size: other.size, Root: other.root}
	}
	st.Logs[origin] = logRecord{Key: l.key, Size: size, Root: bytes.Clone(root)}
	if err := writeState(s.dir, st); err != nil {
		return fmt.Errorf("add-checkpoint: %w", err)
	}
	l.size, l.root = size, bytes.Clone(root)
	return nil
}

// keepEvidence saves a refused request that the log's key signed: it may
// prove the log showed two histories. At most maxEvidenceFiles are kept.
func (s *Server) keepEvidence(origin string, body []byte) {
	dir := filepath.Join(s.dir, EvidenceDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		s.logger.Error("witness: keep evidence", "err", err)
		return
	}
	if ents, err := os.ReadDir(dir); err != nil || len(ents) >= maxEvidenceFiles {
		return
	}
	sum := sha256.Sum256(body)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(time.Now().UnixNano()))
	name := fmt.Sprintf("%x-%x.txt", ts, sum[:8])
	if err := os.WriteFile(filepath.Join(dir, name), body, 0o600); err != nil {
		s.logger.Error("witness: keep evidence", "origin", origin, "err", err)
	}
}
