// Package client is the Go client of the audit log's HTTP API: the write
// path for the platform's remote audit sink, and reads for the CLI.
//
// Errors from the service come back as *auditlog.Error (code, message,
// param) inside a *StatusError that keeps the HTTP status, so callers can
// tell a permanent refusal from a failure worth retrying (Retryable). The
// token is sent in the Authorization header only and never appears in an error.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/guaracloud/auditlog"
)

// DefaultTimeout bounds each request when no WithTimeout or WithHTTPClient option is given.
const DefaultTimeout = 30 * time.Second

// maxResponseBytes bounds a response body (a page of 1000 entries with large metadata fits).
const maxResponseBytes = 128 << 20

// Client calls one audit log service with one token; it is safe for concurrent use.
type Client struct {
	base      *url.URL
	token     string
	http      *http.Client
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sends requests through hc (its Timeout applies).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each request, headers and body, to d.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.http
		hc.Timeout = d
		c.http = &hc
	}
}

// WithUserAgent sets the User-Agent header of every request.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the service at baseURL (e.g. "https://audit.example.com")
// authenticating with token. A URL with user information is refused: credentials go in the token.
func New(baseURL, token string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("client.New: the base URL must be an absolute http(s) URL")
	}
	if u.User != nil {
		return nil, errors.New("client.New: the base URL must not carry credentials; pass a token")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("client.New: the base URL must not have a query or fragment")
	}
	c := &Client{base: u, token: token, http: &http.Client{Timeout: DefaultTimeout}, userAgent: "auditlog-client"}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// URL returns the service's base URL.
func (c *Client) URL() string { return c.base.String() }

// StatusError is an error answer of the service: its HTTP status and the
// decoded error (Unwrap gives the *auditlog.Error, so auditlog.ErrorCode works).
type StatusError struct {
	Op         string
	StatusCode int
	Err        *auditlog.Error
}

// Error implements the error interface.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %s", e.Op, e.StatusCode, e.Err.Error())
}

// Unwrap returns the service's error.
func (e *StatusError) Unwrap() error { return e.Err }

// Retryable reports whether a failed call may succeed if sent again
// unchanged: network errors, timeouts, 5xx and 429. Other 4xx answers are
// permanent (fix the request or the credentials first); so are canceled contexts.
func Retryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	var se *StatusError
	if errors.As(err, &se) {
		return se.StatusCode >= 500 || se.StatusCode == http.StatusTooManyRequests
	}
	return true
}

// do sends a request with a JSON body (when in is not nil) and decodes a
// JSON answer of status want into out.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, in any, want int, out any) error {
	u, err := url.Parse(c.base.String() + path) // path segments are escaped by the callers
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	u.RawQuery = query.Encode()
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s: encode request: %w", op, err)
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s: read response: %w", op, err)
	}
	if res.StatusCode != want {
		return &StatusError{Op: op, StatusCode: res.StatusCode, Err: decodeError(res.StatusCode, raw)}
	}
	if out == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("%s: decode response: %w", op, err)
	}
	return nil
}

// decodeError reads the contract's error body; anything else becomes an
// error with a code derived from the status.
func decodeError(status int, raw []byte) *auditlog.Error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Param   string `json:"param"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		return &auditlog.Error{Code: body.Error.Code, Message: body.Error.Message, Param: body.Error.Param}
	}
	code := auditlog.EInternal
	switch {
	case status == http.StatusUnauthorized:
		code = auditlog.EUnauthorized
	case status == http.StatusForbidden:
		code = auditlog.EForbidden
	case status == http.StatusNotFound:
		code = auditlog.ENotFound
	case status == http.StatusConflict:
		code = auditlog.EConflict
	case status == http.StatusRequestEntityTooLarge:
		code = auditlog.ETooLarge
	case status == http.StatusTooManyRequests:
		code = auditlog.ERateLimited
	case status == http.StatusServiceUnavailable, status == http.StatusBadGateway, status == http.StatusGatewayTimeout:
		code = auditlog.EUnavailable
	case status >= 400 && status < 500:
		code = auditlog.EInvalidBody
	}
	return &auditlog.Error{Code: code, Message: fmt.Sprintf("the service answered %d %s", status, http.StatusText(status))}
}
