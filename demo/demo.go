// Package demo builds a realistic audit history for `auditlog serve --demo`
// by driving the sample control plane (package platform) through the audit
// interceptor, so the demo shows exactly what real traffic produces: a
// handful of users acting across several projects over 30 days, every
// action of the catalog, both outcomes, update diffs, registry preflights
// and overrides, refused viewers and invalid cron schedules.
package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
	"github.com/guaracloud/auditlog/interceptor"
	"github.com/guaracloud/auditlog/platform"
)

// Appender writes batches of events through the sequencer (redaction included).
type Appender interface {
	Append(ctx context.Context, events []auditlog.Event) ([]auditlog.Entry, error)
}

// Owners records project ownership for the admin trail.
type Owners interface {
	SetProjectOwner(ctx context.Context, projectID, ownerID string) error
}

// User is the demo user whose token `serve --demo` prints; it owns prj_storefront.
const User = "usr_ana"

// Users are the demo's accounts.
var Users = []string{User, "usr_bruno", "usr_carla", "usr_diego"}

// clock is the demo's fake time, moved forward request by request.
type clock struct {
	mu  sync.Mutex
	t   time.Time
	end time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

// advance moves the clock forward, never past end.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if next := c.t.Add(d); next.Before(c.end) {
		c.t = next
	}
}

// registry answers preflights: passwords starting with "good" pass.
type registry struct{}

func (registry) RoundTrip(r *http.Request) (*http.Response, error) {
	status := http.StatusUnauthorized
	if _, pass, ok := r.BasicAuth(); ok && strings.HasPrefix(pass, "good") {
		status = http.StatusOK
	}
	return &http.Response{StatusCode: status, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}, Request: r}, nil
}

// driver sends requests to the platform as the demo's users.
type driver struct {
	ctx     context.Context
	p       *platform.Platform
	r       *rand.Rand
	clock   *clock
	total   int // requests to send
	sent    int
	err     error // the first failure to record an event or an owner
	sinkErr error // why the sink refused, when it did
}

// firstError is a sink that remembers the first error of the sink it wraps.
type firstError struct {
	interceptor.Sink
	err *error
}

// Record records e and keeps the first failure.
func (f firstError) Record(ctx context.Context, e auditlog.Event) error {
	err := f.Sink.Record(ctx, e)
	if err != nil && *f.err == nil {
		*f.err = err
	}
	return err
}

var agents = []string{
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"guara-cli/2.4.0 (linux; amd64)",
	"terraform-provider-guara/0.9.1",
}

var addrs = []string{"203.0.113.77:50122", "198.51.100.23:443", "[2001:db8:abcd:12::1]:61000", "[::ffff:192.0.2.10]:40000"}

// do sends one request and returns the status and decoded body.
func (d *driver) do(user, method, path string, body any) (int, map[string]any) {
	var raw []byte
	if body != nil {
		raw, _ = json.Marshal(body)
	}
	req := httptest.NewRequestWithContext(d.ctx, method, path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+user)
	req.Header.Set("User-Agent", agents[d.r.IntN(len(agents))])
	req.RemoteAddr = addrs[d.r.IntN(len(addrs))]
	w := httptest.NewRecorder()
	d.p.ServeHTTP(w, req)
	if w.Code == http.StatusServiceUnavailable && d.err == nil {
		d.err = fmt.Errorf("the audit log refused an event: %s", w.Body.String())
		if d.sinkErr != nil {
			d.err = fmt.Errorf("the audit log refused an event: %w", d.sinkErr)
		}
	}
	d.sent++
	// Spread what is left of the window over the requests left, with jitter.
	left := d.clock.end.Sub(d.clock.Now()) / time.Duration(max(d.total-d.sent, 1))
	d.clock.advance(time.Duration(float64(left) * (0.2 + 1.6*d.r.Float64())))
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// Seed drives about n audited requests through the sample control plane,
// spread over the 30 days before now, deterministically for a seed value.
func Seed(ctx context.Context, w Appender, o Owners, now time.Time, n int, seed uint64) error {
	c := &clock{t: now.Add(-30 * 24 * time.Hour).In(time.FixedZone("-03", -3*3600)), end: now.Add(-time.Minute)}
	d := &driver{ctx: ctx, r: rand.New(rand.NewPCG(seed, 42)), clock: c, total: n}
	d.p = platform.New(platform.Config{
		Audit:     interceptor.Config{Sink: firstError{interceptor.InProcess(w), &d.sinkErr}, Now: c.Now},
		Preflight: registry{},
		OnProjectOwner: func(ctx context.Context, projectID, ownerID string) error {
			err := o.SetProjectOwner(ctx, projectID, ownerID)
			if err != nil && d.err == nil {
				d.err = err
			}
			return err
		},
	})
	d.setup()
	for d.sent < n && d.err == nil {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("demo.Seed: %w", err)
		}
		d.move()
	}
	if d.err != nil {
		return fmt.Errorf("demo.Seed: %w", d.err)
	}
	return nil
}
