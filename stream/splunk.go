package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/guaracloud/auditlog"
)

// splunk posts HEC event objects, one per entry, in one request.
type splunk struct {
	httpSender
	auth string
	host string
}

func newSplunk(url string, token []byte, opts SenderOptions) (*splunk, error) {
	t := string(token)
	if strings.ContainsAny(t, "\r\n\x00") || strings.TrimSpace(t) != t {
		return nil, fmt.Errorf("stream.NewSender: the Splunk HEC token holds whitespace or control characters")
	}
	return &splunk{httpSender: newHTTPSender(url, opts), auth: "Splunk " + t, host: opts.hostname()}, nil
}

// SplunkBody returns the HEC body for entries: one event object per entry,
// concatenated, {"time":<unix seconds with ms>,"host":...,"source":"auditlog",
// "sourcetype":"_json","event":<canonical entry>}.
func SplunkBody(host string, entries []auditlog.Entry) ([]byte, error) {
	hostJSON, err := json.Marshal(host)
	if err != nil {
		return nil, fmt.Errorf("stream: splunk host: %w", err)
	}
	var b bytes.Buffer
	for i := range entries {
		c, err := canonical(&entries[i])
		if err != nil {
			return nil, err
		}
		ms := entries[i].OccurredAt.UnixMilli()
		b.WriteString(`{"time":`)
		b.WriteString(strconv.FormatInt(ms/1000, 10) + "." + fmt.Sprintf("%03d", ms%1000))
		b.WriteString(`,"host":`)
		b.Write(hostJSON)
		b.WriteString(`,"source":"auditlog","sourcetype":"_json","event":`)
		b.Write(c)
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// Send posts the entries as HEC events; a 2xx answer whose JSON (when it is
// JSON) holds code 0 is success.
func (s *splunk) Send(ctx context.Context, entries []auditlog.Entry) error {
	body, err := SplunkBody(s.host, entries)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Authorization", s.auth)
	_, answer, err := s.post(ctx, "splunk_hec", body, h)
	if err != nil {
		return err
	}
	var ack struct {
		Code *int `json:"code"`
	}
	if json.Unmarshal(answer, &ack) == nil && ack.Code != nil && *ack.Code != 0 {
		return &DeliveryError{Reason: fmt.Sprintf("splunk_hec: the receiver answered code %d", *ack.Code)}
	}
	return nil
}
