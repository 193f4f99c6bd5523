package api

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/query"
	"github.com/guaracloud/auditlog/witness"
)

// InclusionProof answers GET /v1/audit-logs/{id}/proof.
type InclusionProof struct {
	Seq        int64    `json:"seq" minimum:"0" doc:"The entry's seq: its leaf index in the Merkle tree."`
	TreeSize   uint64   `json:"tree_size" minimum:"1" doc:"Size of the tree the proof is against; a signed checkpoint of this size exists."`
	Hashes     []string `json:"hashes" nullable:"false" doc:"RFC 6962 inclusion proof of the entry's leaf hash, SHA-256(0x00 || canonical bytes), base64, lowest level first."`
	Checkpoint string   `json:"checkpoint" doc:"The signed checkpoint of tree_size (C2SP tlog-checkpoint in the signed-note format)."`
}

// ConsistencyProof answers GET /v1/checkpoint/consistency.
type ConsistencyProof struct {
	Hashes []string `json:"hashes" nullable:"false" doc:"RFC 6962 consistency proof from the tree of size from to the tree of size to, base64; empty when from equals to."`
}

// checkpoint serves GET /v1/checkpoint[?shard=k]: the latest signed
// checkpoint; when it is older than the checkpoint interval and the tree
// grew, a new one is signed first (so polling never signs more than once per
// interval). In cluster mode each shard is its own log: shard says which.
func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	log, err := s.logOfRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	cp, err := log.Integrity.Recent(r.Context(), integrity.DefaultCheckpointInterval)
	if err == nil { // with the witnesses' cosignatures of its size, when there are some yet
		cp, err = witness.Cosigned(r.Context(), log.Integrity.Log(), cp)
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.checkpoint: %w", err))
		return
	}
	s.writeText(w, r, cp.Note)
}

// checkpointKey serves GET /v1/checkpoint/key[?shard=k]: the verifier key.
func (s *Server) checkpointKey(w http.ResponseWriter, r *http.Request) {
	log, err := s.logOfRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeText(w, r, []byte(log.Integrity.Key().VerifierKey()+"\n"))
}

// logOfRequest returns the log a public request names: the {shard} path
// segment of /shards/{shard}/..., else the shard query parameter.
func (s *Server) logOfRequest(r *http.Request) (Log, error) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return Log{}, auditlog.ParamError("shard", "the query string is malformed")
	}
	if k := r.PathValue("shard"); k != "" {
		values = url.Values{"shard": {k}}
	}
	return s.logParam(values)
}

// consistency serves GET /v1/checkpoint/consistency?from=M&to=N[&shard=k]:
// the proof that checkpoint N extends checkpoint M.
func (s *Server) consistency(w http.ResponseWriter, r *http.Request) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, auditlog.ParamError("from", "the query string is malformed"))
		return
	}
	log, err := s.logParam(values)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	var sizes [2]uint64
	for i, name := range []string{"from", "to"} {
		if sizes[i], err = checkpointSize(r, log, values, name); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if sizes[0] > sizes[1] {
		s.writeError(w, r, auditlog.ParamError("from", "from must not be larger than to"))
		return
	}
	p, err := integrity.ConsistencyProof(r.Context(), log.Integrity.Log(), sizes[0], sizes[1])
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.consistency: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, ConsistencyProof{Hashes: encodeHashes(p)})
}

// checkpointSize reads a tree size parameter that must name a stored checkpoint.
func checkpointSize(r *http.Request, log Log, values url.Values, name string) (uint64, error) {
	n, err := query.Scalar(values, name)
	if err != nil {
		return 0, err
	}
	size, perr := strconv.ParseUint(n, 10, 63)
	if n == "" || perr != nil || (len(n) > 1 && n[0] == '0') {
		return 0, auditlog.ParamError(name, "%s must be a tree size (a non-negative integer)", name)
	}
	if _, err := log.Integrity.Log().CheckpointAt(r.Context(), size); auditlog.ErrorCode(err) == auditlog.ENotFound {
		return 0, auditlog.ParamError(name, "there is no checkpoint of size %d; use a size from a checkpoint you hold", size)
	} else if err != nil {
		return 0, fmt.Errorf("api.checkpointSize: %w", err)
	}
	return size, nil
}

// proofOwn serves GET /v1/audit-logs/{id}/proof[?tree_size=N]: the inclusion
// proof of one of the caller's entries in a checkpointed tree (by default
// the latest, signed on the spot when it does not cover the entry yet).
func (s *Server) proofOwn(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	id := r.PathValue("id")
	if !auditlog.ValidID(id) {
		s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "no audit log entry with that id"))
		return
	}
	e, err := s.store.Get(r.Context(), auditlog.UserScope(tok.UserID), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.proofOwn: %w", err))
		return
	}
	log, err := s.logOf(tok.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.proofOwn: %w", err))
		return
	}
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, auditlog.ParamError("tree_size", "the query string is malformed"))
		return
	}
	var cp integrity.Checkpoint
	raw, err := query.Scalar(values, "tree_size")
	switch {
	case err != nil:
	case raw == "":
		cp, err = log.Integrity.Covering(r.Context(), uint64(e.Seq)+1)
	default:
		var size uint64
		if size, err = checkpointSize(r, log, values, "tree_size"); err == nil {
			if size <= uint64(e.Seq) {
				err = auditlog.ParamError("tree_size", "tree_size must be larger than the entry's seq (%d): the entry is not in smaller trees", e.Seq)
			} else {
				cp, err = log.Integrity.Log().CheckpointAt(r.Context(), size)
			}
		}
	}
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.proofOwn: %w", err))
		return
	}
	p, err := integrity.InclusionProof(r.Context(), log.Integrity.Log(), uint64(e.Seq), cp.Size)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.proofOwn: %w", err))
		return
	}
	s.writeJSON(w, r, http.StatusOK, InclusionProof{Seq: e.Seq, TreeSize: cp.Size, Hashes: encodeHashes(p), Checkpoint: string(cp.Note)})
}

// exportOwn serves GET /v1/audit-logs/export: the caller's entries matching
// the list filters, with their proofs, as a signed tar.gz bundle. The export
// is recorded as an audit_log.export entry before the bundle is sent. Long
// by nature, it runs without the request deadline; each store call (the
// checkpoint, each page of entries and proofs, the record) gets it instead.
func (s *Server) exportOwn(w http.ResponseWriter, r *http.Request, tok auditlog.Token) {
	values, err := query.Values(r.URL.RawQuery)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	delete(values, "limit") // an export holds every matching entry, in one archive
	delete(values, "cursor")
	p, err := query.Parse(values, s.now(), false)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	log, err := s.logOf(tok.UserID)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.exportOwn: %w", err))
		return
	}
	ctx := streamContext(r)
	call, cancel := s.callContext(ctx)
	cp, err := log.Integrity.Checkpoint(call)
	if err == nil { // the latest cosigned checkpoint, when witnesses keep up
		cp, err = witness.ForExport(call, log.Integrity.Log(), cp)
	}
	cancel()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.exportOwn: %w", err))
		return
	}
	x, err := bundle.Prepare(ctx, log.Source, bundle.Options{UserID: tok.UserID, Filter: p.Query.Filter,
		Checkpoint: cp, Key: log.Integrity.Key(), Now: s.now(), CallTimeout: s.timeout})
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.exportOwn: %w", err))
		return
	}
	defer x.Close()
	call, cancel = s.callContext(ctx)
	_, err = s.writer.Append(call, []auditlog.Event{x.Manifest.Event(clientIP(r), r.UserAgent())})
	cancel()
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.exportOwn: record the export: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/gzip")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="auditlog-export-%d.tar.gz"`, cp.Size))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	if _, err := x.WriteTo(w); err != nil {
		// The status is sent; abort the connection so that the client sees a
		// truncated download, never a complete-looking archive.
		s.log.LogAttrs(ctx, slog.LevelWarn, "export aborted", slog.String("error", err.Error()))
		panic(http.ErrAbortHandler)
	}
}

// Cache lifetimes of tiles: a full tile never changes; a partial one of a
// given width does not either, but clients move on to wider ones soon.
const (
	fullTileCache    = "public, max-age=31536000, immutable"
	partialTileCache = "public, max-age=60"
)

// tile serves GET /tile/{L}/{N}[.p/{W}] (and /shards/{shard}/tile/... in
// cluster mode, the prefix a tlog-tiles client of one shard uses): the hashes of one C2SP tlog-tiles
// hash tile (height 8), 32*W bytes, read-only and public. Tiles are served
// up to the committed tree, which may be ahead of the latest signed
// checkpoint: a client asks only for the tiles its checkpoint covers, and
// every hash of a committed tree is final. A partial width is served from a
// stored tile at least that wide (its first W hashes); a tile beyond the
// tree is a 404, as are entry bundles (tile/entries/...), which this log
// does not publish: entries are read through the API, with a token.
func (s *Server) tile(w http.ResponseWriter, r *http.Request) {
	p := r.PathValue("path")
	if p == "entries" || strings.HasPrefix(p, "entries/") {
		s.writeError(w, r, auditlog.Errorf(auditlog.ENotFound, "entry bundles are not served: read entries through the API"))
		return
	}
	id, err := integrity.ParseTilePath(p)
	if err != nil {
		s.writeError(w, r, auditlog.ParamError("path", "not a tile path: want <L>/<N>[.p/<W>], N in x-prefixed 3-digit groups (C2SP tlog-tiles)"))
		return
	}
	log, err := s.logOfRequest(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	body, err := integrity.ReadTile(r.Context(), log.Integrity.Log(), id)
	if err != nil {
		s.writeError(w, r, fmt.Errorf("api.tile: %w", err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if id.Full() {
		h.Set("Cache-Control", fullTileCache)
	} else {
		h.Set("Cache-Control", partialTileCache)
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// clientIP is the address the request came from (anonymized by the sequencer).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || net.ParseIP(host) == nil {
		return ""
	}
	return host
}

// writeText answers 200 with a text/plain body.
func (s *Server) writeText(w http.ResponseWriter, r *http.Request, body []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// encodeHashes returns hashes in base64.
func encodeHashes(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h)
	}
	return out
}
