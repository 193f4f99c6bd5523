package stream

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
)

// SignatureHeader is the webhook's signature header.
const SignatureHeader = "Audit-Signature"

// webhook posts {"data":[entries]} signed with the destination's secret.
type webhook struct {
	httpSender
	secret []byte
}

func newWebhook(url string, secret []byte, opts SenderOptions) *webhook {
	return &webhook{httpSender: newHTTPSender(url, opts), secret: bytes.Clone(secret)}
}

// WebhookBody returns the body a webhook receives for entries:
// {"data":[...]} holding each entry's canonical bytes.
func WebhookBody(entries []auditlog.Entry) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"data":[`)
	for i := range entries {
		c, err := canonical(&entries[i])
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(c)
	}
	b.WriteString(`]}`)
	return b.Bytes(), nil
}

// Sign returns the Audit-Signature value for body at time t:
// t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Send posts the entries as one signed batch.
func (w *webhook) Send(ctx context.Context, entries []auditlog.Entry) error {
	body, err := WebhookBody(entries)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(SignatureHeader, Sign(w.secret, w.opts.now(), body))
	_, _, err = w.post(ctx, "webhook", body, h)
	return err
}

// Errors of VerifySignature.
var (
	ErrSignatureFormat = errors.New("the Audit-Signature header is malformed")
	ErrSignatureStale  = errors.New("the Audit-Signature timestamp is outside the tolerance")
	ErrSignature       = errors.New("no Audit-Signature v1 signature matches the body")
)

// VerifySignature checks an Audit-Signature header against the raw body: a
// t= timestamp within tolerance of now, and a v1= HMAC-SHA256 of "<t>." +
// body under secret (several v1= values may be given, as during a secret
// rotation; one must match). Receivers call it before trusting a batch.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureFormat
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrSignatureFormat
			}
			sigs = append(sigs, sig)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrSignatureFormat
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrSignatureStale
	}
	want := mac(secret, ts, body)
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			return nil
		}
	}
	return ErrSignature
}
