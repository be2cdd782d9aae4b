package kv

import (
	"errors"
	"fmt"
)

// Sentinel errors. Layers wrap them with %w and context; front ends map
// them onto wire errors in exactly one place each (see httpapi).
var (
	// ErrNotFound is returned by reads of a key that has no live value
	// (never written, or deleted).
	ErrNotFound = errors.New("kv: not found")

	// ErrTooLarge is returned when key + value exceed MaxPairSize. Nothing
	// is stored.
	ErrTooLarge = errors.New("kv: pair too large")

	// ErrEmptyKey is returned for a zero-length key (or one whose
	// partition is empty).
	ErrEmptyKey = errors.New("kv: empty key")

	// ErrInvalidKey is returned for a key that cannot be stored, such as
	// one with more than one partition separator in its partition part.
	ErrInvalidKey = errors.New("kv: invalid key")

	// ErrUnavailable is returned when too few replicas answered to meet the
	// requested consistency. The wrapping error says how many of how many.
	ErrUnavailable = errors.New("kv: unavailable")

	// ErrInvalidConsistency is returned for an unknown consistency level or
	// W/R outside 1..N.
	ErrInvalidConsistency = errors.New("kv: invalid consistency")

	// ErrClosed is returned by operations on a closed store.
	ErrClosed = errors.New("kv: closed")

	// ErrNotMember is returned by a node that is no longer in the
	// cluster's membership (it left or was removed): it serves nothing.
	// It is a kind of ErrUnavailable, so callers that retry elsewhere on
	// unavailability do so here too.
	ErrNotMember = fmt.Errorf("%w: not a member of the cluster", ErrUnavailable)
)

// Codes is a table between the codes of a wire protocol and the sentinel
// errors they stand for, in order: the one way each protocol maps errors
// (kv/transport's byte codes, kv/cluster's forwarded changes, the HTTP
// API's error codes).
type Codes[C comparable] []CodeErr[C]

// CodeErr is one row of Codes.
type CodeErr[C comparable] struct {
	Code C
	Err  error
}

// Code returns the code of the first sentinel of t that err wraps.
func (t Codes[C]) Code(err error) (C, bool) {
	for _, r := range t {
		if errors.Is(err, r.Err) {
			return r.Code, true
		}
	}
	var zero C
	return zero, false
}

// Err returns the sentinel of code, or nil.
func (t Codes[C]) Err(code C) error {
	for _, r := range t {
		if r.Code == code {
			return r.Err
		}
	}
	return nil
}
