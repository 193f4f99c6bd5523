package stream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/guaracloud/auditlog"
)

// Sender delivers batches of entries to one destination.
type Sender interface {
	// Send delivers every entry, in order, or reports an error; after an
	// error some entries may have arrived (delivery is at-least-once).
	Send(ctx context.Context, entries []auditlog.Entry) error
	// Close releases the sender's connections.
	Close() error
}

// SenderOptions configure every sender.
type SenderOptions struct {
	// AllowPrivate permits loopback and private destinations; when false every
	// dial re-checks the address it connects to (DNS rebinding) with CheckURL's rules.
	AllowPrivate bool
	Hostname     string         // the syslog HOSTNAME and Splunk host; "" means os.Hostname or "-"
	Timeout      time.Duration  // bounds one Send; 0 means 10s
	RootCAs      *x509.CertPool // trusted roots for TLS; nil means the system pool
	Now          func() time.Time
}

func (o SenderOptions) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 10 * time.Second
	}
	return o.Timeout
}

func (o SenderOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// hostname returns the configured host name, or the machine's, or "-".
func (o SenderOptions) hostname() string {
	h := o.Hostname
	if h == "" {
		h, _ = os.Hostname()
	}
	if h == "" {
		return "-"
	}
	return h
}

func (o SenderOptions) tlsConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: o.RootCAs, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// NewSender returns the sender for d's type; credential is the opened
// (plaintext) webhook secret or Splunk HEC token, nil for syslog.
func NewSender(d Destination, credential []byte, opts SenderOptions) (Sender, error) {
	u, err := parseURL(d.Type, d.URL, opts.AllowPrivate)
	if err != nil {
		return nil, fmt.Errorf("stream.NewSender: %w", err)
	}
	switch d.Type {
	case Webhook:
		if len(credential) == 0 {
			return nil, fmt.Errorf("stream.NewSender: a webhook needs its signing secret")
		}
		return newWebhook(u.String(), credential, opts), nil
	case SplunkHEC:
		if len(credential) == 0 {
			return nil, fmt.Errorf("stream.NewSender: a Splunk HEC destination needs its token")
		}
		return newSplunk(u.String(), credential, opts)
	default: // Syslog; parseURL refused anything else
		return newSyslog(u.Scheme == "tls", u.Host, u.Hostname(), opts), nil
	}
}

// TestAction is the action of the test event a destination can be sent.
const TestAction = "audit_log.stream.test"

// TestEntry returns an entry-shaped test event for d: action TestAction, seq
// -1 (it is never stored, so no seq of the log), a fresh id, d's owner as the
// actor and d's project for a project stream, with its canonical bytes.
func TestEntry(d Destination, now time.Time) auditlog.Entry {
	id, err := uuid.NewV7()
	if err != nil {
		id = uuid.New()
	}
	e := auditlog.Entry{
		ID: id.String(), Seq: -1, Action: TestAction, ResourceType: "audit_log_stream", ResourceID: d.ID,
		ActorID: d.OwnerID, Outcome: auditlog.Success, OccurredAt: now.Truncate(time.Microsecond),
		Metadata: map[string]any{"test": true, "message": "a test event from auditlog; it is not part of the log"},
	}
	if d.Scope == ScopeProject && d.ProjectID != "" {
		p := d.ProjectID
		e.ProjectID = &p
	}
	if b, err := e.Encode(); err == nil {
		e.Canonical = b
	}
	return e
}

// canonical returns an entry's stored canonical bytes, or encodes them.
func canonical(e *auditlog.Entry) ([]byte, error) {
	if e.Canonical != nil {
		return e.Canonical, nil
	}
	b, err := e.Encode()
	if err != nil {
		return nil, fmt.Errorf("stream: encode entry: %w", err)
	}
	return b, nil
}

// DeliveryError is a failed delivery with a reason safe to store and show
// (no credentials, addresses or response bodies); Unwrap gives the cause.
type DeliveryError struct {
	Reason string
	Err    error
}

// Error returns the safe reason.
func (e *DeliveryError) Error() string { return e.Reason }

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// Reason returns a short reason for err safe to store as a destination's
// last error: a DeliveryError's reason, or a generic text.
func Reason(err error) string {
	var d *DeliveryError
	if errors.As(err, &d) {
		return d.Reason
	}
	return "delivery failed"
}

// failure wraps a transport error into a DeliveryError whose reason names
// the kind of failure (never the address, URL or any credential).
func failure(what string, err error) error {
	reason := what + ": "
	var dns *net.DNSError
	var cert *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var op *net.OpError
	switch {
	case errors.Is(err, errBlockedDial):
		reason += errBlockedDial.Error()
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		reason += "timed out"
	case errors.Is(err, context.Canceled):
		reason += "canceled"
	case errors.As(err, &dns):
		reason += "the host name does not resolve"
	case errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &cert):
		reason += "the TLS certificate is not trusted for this host"
	case errors.As(err, &op) && op.Op == "dial":
		reason += "could not connect" + syscallText(op.Err)
	case errors.As(err, &op):
		reason += "connection lost" + syscallText(op.Err)
	default:
		reason += "connection failed"
	}
	return &DeliveryError{Reason: reason, Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// syscallText names the system error under a network error, such as
// "connection refused", which holds no address.
func syscallText(err error) string {
	var sc *os.SyscallError
	if errors.As(err, &sc) {
		return " (" + sc.Err.Error() + ")"
	}
	return ""
}
