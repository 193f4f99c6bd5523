package query

import (
	"bytes"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/guaracloud/auditlog"
)

func mustCodec(t *testing.T) *CursorCodec {
	t.Helper()
	c, err := NewCursorCodec(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustParams(t *testing.T, query string, now time.Time) *Params {
	t.Helper()
	v, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse(v, now, false)
	if err != nil {
		t.Fatal(err)
	}
	return &p
}

func wantCursorError(t *testing.T, err error) {
	t.Helper()
	if auditlog.ErrorCode(err) != auditlog.EInvalid || auditlog.ErrorParam(err) != "cursor" {
		t.Fatalf("got %v, want invalid_parameter on cursor", err)
	}
}

func TestCursor(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pos := auditlog.Position{OccurredAt: now.UnixMicro() - 123, ID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}
	ana := auditlog.UserScope("usr_ana")
	p := mustParams(t, "action_type=service.update&outcome=failed&limit=10", now)

	t.Run("OK", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		if strings.ContainsAny(s, "+/=") {
			t.Fatalf("cursor %q is not URL-safe", s)
		}
		got, err := c.Decode(s, ana, p)
		if err != nil || *got != pos {
			t.Fatalf("Decode = %+v, %v; want %+v", got, err, pos)
		}
	})
	t.Run("OKOtherLimit", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		if _, err := c.Decode(s, ana, mustParams(t, "action_type=service.update&outcome=failed&limit=500", now)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("OKNegativeTime", func(t *testing.T) {
		c := mustCodec(t)
		old := auditlog.Position{OccurredAt: -1, ID: "x"}
		if got, err := c.Decode(c.Encode(old, ana, p), ana, p); err != nil || *got != old {
			t.Fatalf("Decode = %+v, %v", got, err)
		}
	})
	t.Run("OKRangeMovesWithTheClock", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, mustParams(t, "range=24h", now))
		if _, err := c.Decode(s, ana, mustParams(t, "range=24h", now.Add(time.Minute))); err != nil {
			t.Fatal(err)
		}
		wantCursorError(t, func() error {
			_, err := c.Decode(s, ana, mustParams(t, "range=7d", now))
			return err
		}())
		wantCursorError(t, func() error {
			_, err := c.Decode(s, ana, mustParams(t, "", now))
			return err
		}())
	})
	t.Run("ErrTampered", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		for i := range raw {
			for _, bit := range []byte{1, 0x80} {
				b := bytes.Clone(raw)
				b[i] ^= bit
				_, err := c.Decode(base64.RawURLEncoding.EncodeToString(b), ana, p)
				wantCursorError(t, err)
			}
		}
		// Every single-character change of the text, including the last
		// character's unused low bits, is refused.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		for i := range s {
			for _, ch := range alphabet {
				if byte(ch) == s[i] {
					continue
				}
				_, err := c.Decode(s[:i]+string(ch)+s[i+1:], ana, p)
				wantCursorError(t, err)
			}
		}
	})
	t.Run("ErrTruncatedOrGarbage", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		for _, bad := range []string{s[:len(s)-1], s[:len(s)-4], s[:10], s + "A", s + "AAAA", "garbage", "AQ", "=", "%%%",
			strings.Repeat("A", 5000), s + "==", s[:5] + "\r" + s[5:], s[:5] + "\n" + s[5:], "\n" + s, s + "\r\n"} {
			_, err := c.Decode(bad, ana, p)
			wantCursorError(t, err)
		}
	})
	t.Run("ErrOtherKey", func(t *testing.T) {
		other, _ := NewCursorCodec(bytes.Repeat([]byte{8}, 32))
		_, err := mustCodec(t).Decode(other.Encode(pos, ana, p), ana, p)
		wantCursorError(t, err)
	})
	t.Run("ErrForeignScope", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		for _, scope := range []auditlog.Scope{
			auditlog.UserScope("usr_bruno"), auditlog.ProjectScope("prj_web", "usr_ana"), auditlog.UserScope(""),
		} {
			_, err := c.Decode(s, scope, p)
			wantCursorError(t, err)
		}
	})
	t.Run("ErrForeignFilter", func(t *testing.T) {
		c := mustCodec(t)
		s := c.Encode(pos, ana, p)
		for _, q := range []string{
			"", "action_type=service.update&limit=10", "action_type=service.update&outcome=success",
			"action_type=service.update,service.create&outcome=failed", "action_type=service.*&outcome=failed",
			"action_type=service.update&outcome=failed&resource_id=x", "action_type=service.update&outcome=failed&actor_id=usr_ana",
			"action_type=service.update&outcome=failed&since=2026-01-01T00:00:00Z", "action_type=service.update&outcome=failed&range=7d",
		} {
			_, err := c.Decode(s, ana, mustParams(t, q, now))
			wantCursorError(t, err)
		}
	})
	t.Run("ErrShortKey", func(t *testing.T) {
		if _, err := NewCursorCodec(make([]byte, 8)); err == nil {
			t.Fatal("accepted an 8-byte key")
		}
	})
}

// TestCursorCompatible: cursors minted before the codec moved to this
// package (same key, same MAC inputs) still decode, and are minted the same.
func TestCursorCompatible(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	pos := auditlog.Position{OccurredAt: now.UnixMicro() - 123, ID: "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}
	const filters = "action_type=service.update,cron_worker.*&resource_type=service&outcome=failed&limit=10&since=2026-11-01T00:00:00Z"
	for _, c := range []struct {
		query  string
		scope  auditlog.Scope
		cursor string
	}{
		{filters, auditlog.ProjectScope("prj_web", "usr_ana"), "AQAGYRiQ_u-FMDE5M2ExYjItYzNkNC03ZTVmLThhOWItMGMxZDJlM2Y0YTViZrxix2jTGREJ9rKo-K6aKg"},
		{filters, auditlog.UserScope("usr_ana"), "AQAGYRiQ_u-FMDE5M2ExYjItYzNkNC03ZTVmLThhOWItMGMxZDJlM2Y0YTViHon65F9mep5i-4w6_jzvXg"},
		{"range=24h&actor_id=usr_bruno", auditlog.ProjectScope("prj_web", "usr_ana"), "AQAGYRiQ_u-FMDE5M2ExYjItYzNkNC03ZTVmLThhOWItMGMxZDJlM2Y0YTViWjjW0fbvmT8MLqXCPZUC5A"},
		{"range=24h&actor_id=usr_bruno", auditlog.UserScope("usr_ana"), "AQAGYRiQ_u-FMDE5M2ExYjItYzNkNC03ZTVmLThhOWItMGMxZDJlM2Y0YTVi7EPulLvWztB5zPaRM0Rsng"},
	} {
		c1 := mustCodec(t)
		p := mustParams(t, c.query, now)
		if got := c1.Encode(pos, c.scope, p); got != c.cursor {
			t.Errorf("%s %v: minted %s, want %s", c.query, c.scope, got, c.cursor)
		}
		if got, err := c1.Decode(c.cursor, c.scope, p); err != nil || *got != pos {
			t.Errorf("%s %v: Decode = %+v, %v", c.query, c.scope, got, err)
		}
	}
}
