package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/grafo/grafo/kv/wire"
)

// Client talks to one Grafo node's public address. It is safe for
// concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	hc    *http.Client
	token string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient uses hc instead of a fresh http.Client (no timeout:
// deadlines come from each call's context).
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) {
		if hc != nil {
			c.hc = hc
		}
	}
}

// WithToken sends "Authorization: Bearer tok" on every request (needed when
// the server runs with --tokens).
func WithToken(tok string) Option { return func(c *Client) { c.token = tok } }

// New returns a client of the node at baseURL, such as
// http://127.0.0.1:7070; a bare host:port gets http://.
func New(baseURL string, opts ...Option) *Client {
	base := strings.TrimSpace(baseURL)
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	c := &Client{base: strings.TrimRight(base, "/"), hc: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the normalised address the client sends requests to.
func (c *Client) BaseURL() string { return c.base }

// Do sends a request to path (with any query already in it) on the node,
// with body as JSON if non-nil, and decodes a 2xx JSON answer into out when
// out is non-nil. Failures come back as *Error, as for every other call.
func (c *Client) Do(ctx context.Context, method, path string, body io.Reader, out any) error {
	resp, err := c.send(ctx, method, path, body, "application/json")
	if err != nil {
		return err
	}
	defer drain(resp)
	if err := checkStatus(resp); err != nil {
		return err
	}
	return decodeBody(resp, out)
}

// doJSON marshals in as the request body and decodes the answer into out.
func (c *Client) doJSON(ctx context.Context, method, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("client: encode %s %s: %w", method, path, err)
	}
	return c.Do(ctx, method, path, bytes.NewReader(b), out)
}

// send builds and sends one request; the caller must drain the response.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType string) (*http.Response, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	return resp, nil
}

// drain reads what is left of a body (bounded) before closing it so the
// connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 64 << 10

// checkStatus turns a non-2xx answer into *Error.
func checkStatus(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return wireError(resp.StatusCode, raw)
}

// wireError decodes {"error":{"code","message"}}, falling back to the
// status and the body's text for anything else.
func wireError(status int, raw []byte) *Error {
	var body wire.ErrorBody
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		return &Error{Status: status, Code: body.Error.Code, Message: body.Error.Message}
	}
	msg := strings.TrimSpace(string(raw))
	if msg == "" {
		msg = http.StatusText(status)
	}
	return &Error{Status: status, Code: codeForStatus(status), Message: msg}
}

func decodeBody(resp *http.Response, out any) error {
	if out == nil || resp.StatusCode == http.StatusNoContent {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if err == io.EOF {
			return nil // an empty 2xx body leaves out as it was
		}
		return fmt.Errorf("%w: decode %s %s: %v", ErrProtocol, resp.Request.Method, resp.Request.URL.Path, err)
	}
	return nil
}

// Stream GETs path and returns the body of a 2xx answer for the caller to
// read and close (large answers, such as a graph dump, that should not be
// held in memory); failures come back as *Error.
func (c *Client) Stream(ctx context.Context, path string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return nil, err
	}
	if err := checkStatus(resp); err != nil {
		drain(resp)
		return nil, err
	}
	return resp.Body, nil
}
