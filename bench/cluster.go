package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/guaracloud/auditlog"
)

// ClusterConfig is a load against running cluster nodes (auditlog serve
// --nats): writes through any node, reads of a sample of what was
// acknowledged through any node, as the writing actor.
type ClusterConfig struct {
	Targets     []string                  // nodes' base URLs; each client writes to them in turn, and to the next on a failure
	WriterToken string                    // a writer token
	UserToken   func(actor string) string // a user token of each generated actor (bench.Actor(i), i < DefaultActors)
	Clients     int                       // concurrent writers (default 16)
	Batch       int                       // events per write (default 1)
	Duration    time.Duration             // how long to write (default 10s)
	SampleEvery int                       // probe one acknowledged event in this many for its ingest-to-visible lag (default 50)
	Seed        uint64                    // generator seed
	// At runs each function once that much time into the run: a node
	// killed mid-run shows what its loss does to throughput and lag.
	At       map[time.Duration]func()
	Progress func(acked int64)
}

// ClusterReport is what a cluster load measured.
type ClusterReport struct {
	Acked     int64         // events acknowledged (201 or 202)
	Created   int64         // of which answered 201 (committed within the node's commit wait)
	Accepted  int64         // of which answered 202 (durable, committed later)
	Failed    int64         // writes that failed on every node (their events not acknowledged)
	Took      time.Duration // the write phase
	Write     []time.Duration
	Lag       []time.Duration // ingest-to-visible: from sending the write to the first 200 of GET /v1/audit-logs/{id}
	LagLost   int             // sampled events never seen within a minute (a defect if ever non-zero)
	PerSecond []int64         // events acknowledged in each second of the run
}

// EventsPerSecond is the acknowledged rate.
func (r *ClusterReport) EventsPerSecond() float64 { return float64(r.Acked) / r.Took.Seconds() }

// String prints the report's figures.
func (r *ClusterReport) String() string {
	return fmt.Sprintf("acked %d ev (%.0f ev/s; 201 %d, 202 %d), failed writes %d; write p50 %.1fms p99 %.1fms; "+
		"ingest-to-visible p50 %.1fms p99 %.1fms (n=%d, never visible %d); per second %v",
		r.Acked, r.EventsPerSecond(), r.Created, r.Accepted, r.Failed,
		ms(Percentile(r.Write, 50)), ms(Percentile(r.Write, 99)),
		ms(Percentile(r.Lag, 50)), ms(Percentile(r.Lag, 99)), len(r.Lag), r.LagLost, r.PerSecond)
}

// probe is one sampled acknowledged event to read back.
type probe struct {
	id, actor string
	sent      time.Time
}

// RunCluster writes to the nodes for cfg.Duration and measures what was acknowledged and how soon it became readable.
func RunCluster(ctx context.Context, cfg ClusterConfig) (*ClusterReport, error) {
	if len(cfg.Targets) == 0 || cfg.WriterToken == "" || cfg.UserToken == nil {
		return nil, fmt.Errorf("bench.RunCluster: targets, a writer token and user tokens are required")
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 16
	}
	if cfg.SampleEvery <= 0 {
		cfg.SampleEvery = 50
	}
	cfg.Batch = max(cfg.Batch, 1)
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients * 2}}
	rep := &ClusterReport{}
	var (
		acked, created, accepted, failed atomic.Int64
		mu                               sync.Mutex
		perSecond                        = make([]int64, int(cfg.Duration/time.Second)+2)
		probes                           = make(chan probe, 4096)
		lagWG                            sync.WaitGroup
	)
	// The probes give up a minute after the writes end, however many were
	// sampled: what is not readable by then counts as never visible.
	readUntil := time.Now().Add(cfg.Duration + time.Minute)
	for range 4 {
		lagWG.Add(1)
		go func() {
			defer lagWG.Done()
			for p := range probes {
				lag, ok := readBack(ctx, client, cfg, p, readUntil)
				mu.Lock()
				if ok {
					rep.Lag = append(rep.Lag, lag)
				} else {
					rep.LagLost++
				}
				mu.Unlock()
			}
		}()
	}
	for at, fn := range cfg.At {
		t := time.AfterFunc(at, fn)
		defer t.Stop()
	}
	start := time.Now()
	gens := make([]*Generator, cfg.Clients)
	for i := range gens {
		gens[i] = NewGenerator(cfg.Seed+uint64(i)+1, DefaultActors)
	}
	var sampled atomic.Int64
	lat, _, took, err := runFor(ctx, cfg.Clients, cfg.Duration, cfg.Progress, func(ctx context.Context, w int) (int, error) {
		events := gens[w].Events(cfg.Batch)
		sent := time.Now()
		status, err := writeAny(ctx, client, cfg, w, events)
		if err != nil {
			failed.Add(1)
			time.Sleep(50 * time.Millisecond) // every node refused: give them a moment, as a client's retry would
			return 0, nil                     // counted, not fatal: nodes may be down on purpose
		}
		n := int64(len(events))
		acked.Add(n)
		if status == http.StatusCreated {
			created.Add(n)
		} else {
			accepted.Add(n)
		}
		sec := int(time.Since(start) / time.Second)
		mu.Lock()
		if sec < len(perSecond) {
			perSecond[sec] += n
		}
		mu.Unlock()
		for _, e := range events {
			if sampled.Add(1)%int64(cfg.SampleEvery) == 0 {
				select {
				case probes <- probe{id: e.ID, actor: e.ActorID, sent: sent}:
				default: // the probers are behind: skip this sample rather than slow the load
				}
			}
		}
		return len(events), nil
	})
	close(probes)
	lagWG.Wait()
	if err != nil && ctx.Err() == nil {
		return nil, fmt.Errorf("bench.RunCluster: %w", err)
	}
	rep.Acked, rep.Created, rep.Accepted, rep.Failed = acked.Load(), created.Load(), accepted.Load(), failed.Load()
	rep.Took, rep.Write = took, lat
	rep.PerSecond = perSecond[:min(len(perSecond), int(took/time.Second)+1)]
	return rep, nil
}

// writeAny posts events to the worker's node, and on a failure to each other
// node in turn, as a load balancer in front of the nodes would.
func writeAny(ctx context.Context, client *http.Client, cfg ClusterConfig, w int, events []auditlog.Event) (int, error) {
	var body any = map[string]any{"events": events}
	if len(events) == 1 {
		body = events[0]
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("encode: %w", err)
	}
	var last error
	for i := range len(cfg.Targets) {
		url := cfg.Targets[(w+i)%len(cfg.Targets)] + "/v1/audit-logs"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(raw)))
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+cfg.WriterToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			last = err
			continue
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusCreated || res.StatusCode == http.StatusAccepted {
			return res.StatusCode, nil
		}
		last = fmt.Errorf("status %d", res.StatusCode)
	}
	return 0, last
}

// readBack polls GET /v1/audit-logs/{id} as the actor, on each node in
// turn, until it answers 200, and returns how long after the write that was.
func readBack(ctx context.Context, client *http.Client, cfg ClusterConfig, p probe, deadline time.Time) (time.Duration, bool) {
	token := cfg.UserToken(p.actor)
	for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.Targets[i%len(cfg.Targets)]+"/v1/audit-logs/"+p.id, nil)
		if err != nil {
			return 0, false
		}
		req.Header.Set("Authorization", "Bearer "+token)
		if res, err := client.Do(req); err == nil {
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(p.sent), true
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return 0, false
}
