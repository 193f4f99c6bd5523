package stream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxResponse bounds how much of a receiver's answer is read.
const maxResponse = 64 << 10

// httpSender posts bodies to one URL with a client that never follows
// redirects, never uses a proxy, and dials through the address check.
type httpSender struct {
	url    string
	client *http.Client
	opts   SenderOptions
}

func newHTTPSender(url string, opts SenderOptions) httpSender {
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would dial on our behalf, past the address check
		DialContext:           newDialer(opts).DialContext,
		TLSClientConfig:       opts.tlsConfig(""),
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   opts.timeout(),
		ResponseHeaderTimeout: opts.timeout(),
	}
	return httpSender{url: url, opts: opts, client: &http.Client{
		Transport:     transport,
		Timeout:       opts.timeout(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// post sends body with the given headers and returns the status and at most
// maxResponse bytes of the answer; transport failures are DeliveryErrors.
func (s *httpSender) post(ctx context.Context, what string, body []byte, header http.Header) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.timeout())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, &DeliveryError{Reason: what + ": the request could not be made", Err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("User-Agent", "auditlog")
	res, err := s.client.Do(req)
	if err != nil {
		return 0, nil, failure(what, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	if err != nil && res.StatusCode/100 == 2 {
		return 0, nil, failure(what, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxResponse)) // lets the connection be reused
	if res.StatusCode/100 != 2 {
		return res.StatusCode, answer, &DeliveryError{Reason: fmt.Sprintf("%s: the receiver answered %d", what, res.StatusCode)}
	}
	return res.StatusCode, answer, nil
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
