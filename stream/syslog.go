package stream

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/guaracloud/auditlog"
)

// Syslog framing: facility 13 (log audit); severity notice (5) for a
// successful mutation and warning (4) for a failed one.
const (
	syslogFacility = 13
	sevNotice      = 5
	sevWarning     = 4
	maxMsgID       = 32
)

// syslogSender writes RFC 5424 messages with RFC 6587 octet counting on one
// persistent TCP or TLS connection, reconnecting after any error.
type syslogSender struct {
	tls        bool
	addr       string // host:port
	serverName string
	hostname   string
	opts       SenderOptions
	dialer     *net.Dialer

	mu   sync.Mutex
	conn net.Conn
}

func newSyslog(useTLS bool, addr, serverName string, opts SenderOptions) *syslogSender {
	return &syslogSender{tls: useTLS, addr: addr, serverName: serverName, hostname: headerField(opts.hostname(), 255),
		opts: opts, dialer: newDialer(opts)}
}

// SyslogFrame appends one entry's frame to dst: "LEN SP MSG" where MSG is
// "<PRI>1 TIMESTAMP HOSTNAME auditlog - MSGID - " and the canonical JSON.
// TIMESTAMP is occurred_at with its offset (at most 6 fractional digits),
// MSGID the action (printable ASCII, at most 32 characters), and the
// structured data is "-": the message itself holds the id and seq.
func SyslogFrame(dst []byte, hostname string, e *auditlog.Entry) ([]byte, error) {
	c, err := canonical(e)
	if err != nil {
		return nil, err
	}
	sev := sevNotice
	if e.Outcome == auditlog.Failed {
		sev = sevWarning
	}
	head := make([]byte, 0, 128)
	head = append(head, '<')
	head = strconv.AppendInt(head, syslogFacility*8+int64(sev), 10)
	head = append(head, ">1 "...)
	head = e.OccurredAt.AppendFormat(head, auditlog.TimeLayout)
	head = append(head, ' ')
	head = append(head, headerField(hostname, 255)...)
	head = append(head, " auditlog - "...)
	head = append(head, headerField(e.Action, maxMsgID)...)
	head = append(head, " - "...)
	dst = strconv.AppendInt(dst, int64(len(head)+len(c)), 10)
	dst = append(dst, ' ')
	dst = append(dst, head...)
	return append(dst, c...), nil
}

// headerField keeps a header field's printable ASCII (33-126), at most
// max bytes; an empty result is the nil value "-".
func headerField(s string, max int) string {
	b := make([]byte, 0, min(len(s), max))
	for i := 0; i < len(s) && len(b) < max; i++ {
		if s[i] >= 33 && s[i] <= 126 {
			b = append(b, s[i])
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

// Send writes every entry's frame; it succeeds once all were written to
// the connection. After an error the connection is dropped and the next
// Send dials again.
func (s *syslogSender) Send(ctx context.Context, entries []auditlog.Entry) error {
	var frames []byte
	for i := range entries {
		var err error
		if frames, err = SyslogFrame(frames, s.hostname, &entries[i]); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && !alive(s.conn) {
		s.drop()
	}
	if s.conn == nil {
		conn, err := s.dial(ctx)
		if err != nil {
			return failure("syslog", err)
		}
		s.conn = conn
	}
	deadline := time.Now().Add(s.opts.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := s.conn.SetWriteDeadline(deadline); err != nil {
		s.drop()
		return failure("syslog", err)
	}
	conn := s.conn
	stop := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Unix(1, 0)) })
	w := bufio.NewWriterSize(conn, 64<<10)
	_, err := w.Write(frames)
	if err == nil {
		err = w.Flush()
	}
	stop()
	if err != nil {
		s.drop()
		if ctx.Err() != nil {
			err = errors.Join(ctx.Err(), err)
		}
		return failure("syslog", err)
	}
	return nil
}

func (s *syslogSender) dial(ctx context.Context) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.timeout())
	defer cancel()
	if s.tls {
		d := &tls.Dialer{NetDialer: s.dialer, Config: s.opts.tlsConfig(s.serverName)}
		return d.DialContext(ctx, "tcp", s.addr)
	}
	return s.dialer.DialContext(ctx, "tcp", s.addr)
}

// alive reports whether the collector has not closed the connection: a
// collector never writes, so a read that does not time out at once means
// the end of the stream or an error. This catches a collector restarted
// between batches before a batch is written into a dead connection.
func alive(c net.Conn) bool {
	if err := c.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var one [1]byte
	_, err := c.Read(one[:])
	c.SetReadDeadline(time.Time{})
	return err != nil && isTimeout(err)
}

func (s *syslogSender) drop() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// Close closes the connection.
func (s *syslogSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	return nil
}
