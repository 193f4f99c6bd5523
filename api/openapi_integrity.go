package api

import (
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// integrityDoc explains the tamper evidence the integrity routes serve.
const integrityDoc = "Every entry is a leaf of one append-only RFC 6962 Merkle tree, in seq order: " +
	"leaf hash SHA-256(0x00 || the entry's canonical bytes), node hash SHA-256(0x01 || left || right). " +
	"Checkpoints are C2SP tlog-checkpoints (origin, size, base64 root) in the C2SP signed-note format, Ed25519."

// integrityOperations describes the tamper-evidence routes: proofs and
// exports for user tokens; checkpoints, the key, consistency proofs and hash tiles public.
func (b *docBuilder) integrityOperations() {
	b.add(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/audit-logs/{id}/proof", OperationID: "getAuditLogProof", Tags: []string{"integrity"},
		Summary: "Inclusion proof of one of the caller's entries",
		Description: integrityDoc + " The proof is against the signed checkpoint of tree_size (default: the latest, " +
			"signed on the spot when the entry is newer). Another user's entry is a 404.",
		Parameters: []*huma.Param{
			pathParam("id", "The entry's id."),
			{Name: "tree_size", In: "query", Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(1.0)},
				Description: "Size of a signed checkpoint larger than the entry's seq; anything else is a 400."},
		},
	}, http.StatusOK, InclusionProof{}, 400, 401, 403, 404, 429, 500, 503)

	params := b.listParams(false)
	exportParams := params[:0:0]
	for _, p := range params {
		if p.Name != "limit" && p.Name != "cursor" {
			exportParams = append(exportParams, p)
		}
	}
	b.addWithBody(&huma.Operation{
		Method: http.MethodGet, Path: "/v1/audit-logs/export", OperationID: "exportAuditLogs", Tags: []string{"integrity"},
		Summary: "Signed export of the caller's entries (tar.gz)",
		Description: "The caller's entries matching the list filters, in seq order, as a tar.gz holding checkpoint, key, " +
			"manifest (a signed note whose body is JSON: filters, count, first_seq, last_seq, tree_size, created_at and the " +
			"sha256 of entries.jsonl), entries.jsonl (one canonical entry per line) and proofs.jsonl ({\"seq\": n, \"hashes\": [...]} " +
			"per entry, same order, against the bundled checkpoint). Verify it offline with `auditlog verify BUNDLE --key KEY` " +
			"or any RFC 6962 and signed-note implementation. The export is itself recorded as an audit_log.export entry.",
		Parameters: exportParams,
	}, "application/gzip", &huma.Schema{Type: huma.TypeString, Format: "binary"}, 400, 401, 403, 429, 500, 503)

	shard := &huma.Param{Name: "shard", In: "query", Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(0.0)},
		Description: "Cluster mode: which shard's log (each shard is its own Merkle log, origin .../shard-<k>, with its own " +
			"checkpoints and key; a user's entries all live in one). Required when there are several shards; " +
			"a single-node log is shard 0."}
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/v1/checkpoint", OperationID: "getCheckpoint", Tags: []string{"integrity"},
		Summary: "The latest signed checkpoint (public)",
		Description: integrityDoc + " Keep the checkpoints you fetch: a later one must be consistent with them " +
			"(GET /v1/checkpoint/consistency), or the log was forked or rewritten. When the server submits its " +
			"checkpoints to witnesses (C2SP tlog-witness), the cosignature lines they returned for this size follow " +
			"our signature (C2SP tlog-cosignature/v1); clients that know only our key skip them.",
		Parameters: []*huma.Param{shard}},
		"text/plain", &huma.Schema{Type: huma.TypeString}, 400, 503)
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/shards/{shard}/checkpoint", OperationID: "getShardCheckpoint", Tags: []string{"integrity"},
		Summary:     "One shard's latest signed checkpoint (public)",
		Description: "GET /v1/checkpoint?shard=k under the prefix a C2SP tlog-tiles client of shard k's log uses.",
		Parameters:  []*huma.Param{shardPath()}},
		"text/plain", &huma.Schema{Type: huma.TypeString}, 400, 503)
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/v1/checkpoint/key", OperationID: "getCheckpointKey", Tags: []string{"integrity"},
		Summary:     "The checkpoint verifier key (public)",
		Description: "Signed-note verifier key, name+hexkeyhash+base64(0x01 || Ed25519 public key).",
		Parameters:  []*huma.Param{shard}},
		"text/plain", &huma.Schema{Type: huma.TypeString}, 400, 503)
	size := func(name, doc string) *huma.Param {
		return &huma.Param{Name: name, In: "query", Required: true, Description: doc,
			Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(0.0)}}
	}
	b.public(&huma.Operation{Method: http.MethodGet, Path: "/v1/checkpoint/consistency", OperationID: "getConsistencyProof",
		Tags: []string{"integrity"}, Summary: "Consistency proof between two checkpoints (public)",
		Description: "RFC 6962 consistency proof that the checkpoint of size to extends the checkpoint of size from. " +
			"Both must be sizes of signed checkpoints, from <= to; anything else is a 400.",
		Parameters: []*huma.Param{size("from", "Size of the older checkpoint."), size("to", "Size of the newer checkpoint."), shard}},
		"application/json", b.schema(ConsistencyProof{}), 400, 503)
	tile := func(path, id string, params ...*huma.Param) {
		b.public(&huma.Operation{Method: http.MethodGet, Path: path, OperationID: id, Tags: []string{"integrity"},
			Summary: "A hash tile of the Merkle tree (C2SP tlog-tiles, public)",
			Description: "The hashes of tree level 8L, indexes 256N to 256N+W-1, 32 bytes each, concatenated: tile L/N " +
				"(full, W = 256, never changes: Cache-Control immutable) or L/N.p/W (partial, W from 1 to 255, short cache). " +
				"Tiles are served up to the committed tree, which may be ahead of the latest checkpoint; fetch the ones " +
				"a checkpoint you hold covers. A tile beyond the tree is a 404; entry bundles (tile/entries/...) are not served (404). " +
				"In cluster mode each shard has its own tiles: /shards/{shard}/tile/... (or ?shard=k).",
			Parameters: append(params, &huma.Param{Name: "path", In: "path", Required: true,
				Description: "<L>/<N>[.p/<W>], slashes unescaped: L from 0 to 7, N in 3-digit groups all but the last prefixed " +
					"with x (1234067 is x001/x234/067). Anything else is a 400.",
				Schema: &huma.Schema{Type: huma.TypeString, MinLength: ptr(3)}})},
			"application/octet-stream", &huma.Schema{Type: huma.TypeString, Format: "binary"}, 400, 404, 503)
	}
	tile("/tile/{path}", "getTile", shard)
	tile("/shards/{shard}/tile/{path}", "getShardTile", shardPath())
}

// shardPath is the {shard} path parameter of the per-shard routes.
func shardPath() *huma.Param {
	return &huma.Param{Name: "shard", In: "path", Required: true, Description: "The shard, from 0.",
		Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: ptr(0.0)}}
}

// addWithBody describes an authenticated operation whose success answer is not JSON.
func (b *docBuilder) addWithBody(op *huma.Operation, contentType string, schema *huma.Schema, errs ...int) {
	op.Security = []map[string][]string{{bearerScheme: {}}}
	op.Responses = map[string]*huma.Response{
		"200": {Description: "OK", Content: map[string]*huma.MediaType{contentType: {Schema: schema}}},
	}
	for _, code := range errs {
		op.Responses[strconv.Itoa(code)] = b.errorResponse(code)
	}
	op.Responses["default"] = b.errorResponse(0)
	b.doc.AddOperation(op)
}
