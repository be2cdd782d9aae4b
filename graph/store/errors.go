package store

import "errors"

// Sentinel errors, wrapped with %w and context. Storage errors from kv
// (kv.ErrTooLarge, kv.ErrUnavailable, …) pass through wrapped as well.
var (
	// ErrNotFound is returned for a graph or node that does not exist
	// where one is required (mutations on a missing graph, edges to
	// unknown nodes).
	ErrNotFound = errors.New("store: not found")

	// ErrInvalid is returned for an argument that cannot be stored: an
	// empty or malformed graph id, a name with a NUL byte, a bad cursor.
	ErrInvalid = errors.New("store: invalid argument")
)
