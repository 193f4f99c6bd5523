package api

import (
	"math"
	"sync"
	"time"
)

// maxBuckets bounds the limiter's memory; past it, full (idle) buckets are dropped.
const maxBuckets = 10000

// rateLimiter is a token bucket per key (a token id): each bucket refills at
// rate tokens per second up to burst, and each request takes one token.
type rateLimiter struct {
	rate  float64
	burst float64
	now   func() time.Time

	mu      sync.Mutex
	buckets map[string]*bucket
}

// bucket is one key's tokens as of last.
type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter allows rate requests per second per key, in bursts of up to
// max(1, rate) requests.
func newRateLimiter(rate float64, now func() time.Time) *rateLimiter {
	return &rateLimiter{rate: rate, burst: math.Max(1, rate), now: now, buckets: map[string]*bucket{}}
}

// allow takes a token from key's bucket; when it is empty it reports false
// and how long until a token is back.
func (l *rateLimiter) allow(key string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= maxBuckets {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = math.Min(l.burst, b.tokens+elapsed*l.rate)
	}
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep drops the buckets that have refilled completely: forgetting them changes nothing.
func (l *rateLimiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// retryAfterSeconds rounds a wait up to whole seconds, at least one, for the Retry-After header.
func retryAfterSeconds(wait time.Duration) int {
	return max(1, int(math.Ceil(wait.Seconds())))
}
