package api

import (
	"net/url"
	"strconv"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/bundle"
	"github.com/guaracloud/auditlog/integrity"
	"github.com/guaracloud/auditlog/query"
)

// Logs are the Merkle logs the API serves: one in single-node mode, one per
// shard in cluster mode, each with its own checkpoints, key and tiles. A
// user's entries, proofs and exports all live in one of them.
type Logs interface {
	// Count is the number of logs (shards).
	Count() int
	// Of returns the log holding the user's entries.
	Of(userID string) int
	// At returns log k; ENotFound for no such log, EUnavailable while its database is down.
	At(k int) (Log, error)
}

// Log is one Merkle log: its checkpointer (tree, key, origin) and the scan exports read.
type Log struct {
	Integrity *integrity.Checkpointer
	Source    bundle.Source
}

// OneLog is the single log of a single-node server.
func OneLog(ckpt *integrity.Checkpointer, src bundle.Source) Logs { return oneLog{Log{ckpt, src}} }

type oneLog struct{ log Log }

func (o oneLog) Count() int    { return 1 }
func (o oneLog) Of(string) int { return 0 }
func (o oneLog) At(k int) (Log, error) {
	if k != 0 {
		return Log{}, auditlog.Errorf(auditlog.ENotFound, "no shard %d: this log is not sharded", k)
	}
	return o.log, nil
}

// logOf returns the log holding the user's entries.
func (s *Server) logOf(userID string) (Log, error) { return s.logs.At(s.logs.Of(userID)) }

// logParam returns the log the `shard` query parameter names. It may be left
// out when there is one log; with several, it is required, so that no client
// mistakes one shard's checkpoints for the whole log's.
func (s *Server) logParam(values url.Values) (Log, error) {
	raw, err := query.Scalar(values, "shard")
	if err != nil {
		return Log{}, err
	}
	n := s.logs.Count()
	if raw == "" {
		if n == 1 {
			return s.logs.At(0)
		}
		return Log{}, auditlog.ParamError("shard", "this log has %d shards, each with its own checkpoints: pass shard=0 to shard=%d", n, n-1)
	}
	k, perr := strconv.Atoi(raw)
	if perr != nil || k < 0 || k >= n || (len(raw) > 1 && raw[0] == '0') {
		return Log{}, auditlog.ParamError("shard", "shard must be an integer from 0 to %d", n-1)
	}
	return s.logs.At(k)
}
