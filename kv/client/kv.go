package client

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/grafo/grafo/kv"
)

// VersionHeader carries a value's version on GET /v1/kv (kv.Version's
// String form).
const VersionHeader = "X-Grafo-Version"

// QueryFor encodes per-request options as the query of /v1/kv:
// consistency=one|quorum|all|linearizable (omitted for kv.Default), w=N,
// r=N, sloppy=true. Zero fields are omitted, so the zero Options encode as
// an empty query (the cluster's defaults). The server and the CLI share it.
func QueryFor(o kv.Options) url.Values {
	q := url.Values{}
	if o.Level != kv.Default {
		q.Set("consistency", o.Level.String())
	}
	if o.W != 0 {
		q.Set("w", strconv.Itoa(o.W))
	}
	if o.R != 0 {
		q.Set("r", strconv.Itoa(o.R))
	}
	if o.Sloppy {
		q.Set("sloppy", "true")
	}
	return q
}

// KeyPath returns the path of key under /v1/kv with o's query.
func KeyPath(key []byte, o kv.Options) string {
	p := "/v1/kv/" + EscapeKey(key)
	if q := QueryFor(o).Encode(); q != "" {
		p += "?" + q
	}
	return p
}

// EscapeKey escapes key as a single path segment. On top of
// url.PathEscape (which escapes '/', '%', NUL and every non-ASCII byte),
// a key made only of dots ("." or "..") gets them escaped, because routers
// clean such segments out of a path.
func EscapeKey(key []byte) string {
	s := url.PathEscape(string(key))
	if s == "." || s == ".." {
		s = strings.ReplaceAll(s, ".", "%2E")
	}
	return s
}

// Put stores value under key (204 on success).
func (c *Client) Put(ctx context.Context, key, value []byte, o kv.Options) error {
	return c.kvCall(ctx, http.MethodPut, key, value, o)
}

// Delete writes a tombstone for key.
func (c *Client) Delete(ctx context.Context, key []byte, o kv.Options) error {
	return c.kvCall(ctx, http.MethodDelete, key, nil, o)
}

func (c *Client) kvCall(ctx context.Context, method string, key, value []byte, o kv.Options) error {
	var body io.Reader
	if method == http.MethodPut {
		body = bytes.NewReader(value)
	}
	resp, err := c.send(ctx, method, KeyPath(key, o), body, "application/octet-stream")
	if err != nil {
		return err
	}
	defer drain(resp)
	return checkStatus(resp)
}

// Get returns the value of key and its version. An absent or deleted key
// is an *Error that unwraps to kv.ErrNotFound.
func (c *Client) Get(ctx context.Context, key []byte, o kv.Options) ([]byte, kv.Version, error) {
	resp, err := c.send(ctx, http.MethodGet, KeyPath(key, o), nil, "")
	if err != nil {
		return nil, kv.Version{}, err
	}
	defer drain(resp)
	if err := checkStatus(resp); err != nil {
		return nil, kv.Version{}, err
	}
	// A pair is at most kv.MaxPairSize; read one byte more to notice a
	// server that sends more than it may store.
	value, err := io.ReadAll(io.LimitReader(resp.Body, kv.MaxPairSize+1))
	if err != nil {
		return nil, kv.Version{}, fmt.Errorf("client: get %q: %w", key, err)
	}
	if len(value) > kv.MaxPairSize {
		return nil, kv.Version{}, fmt.Errorf("%w: get %q: value longer than %d bytes", ErrProtocol, key, kv.MaxPairSize)
	}
	var v kv.Version
	if h := resp.Header.Get(VersionHeader); h != "" {
		if v, err = kv.ParseVersion(h); err != nil {
			return nil, kv.Version{}, fmt.Errorf("%w: get %q: %v", ErrProtocol, key, err)
		}
	}
	return value, v, nil
}
