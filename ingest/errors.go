package ingest

import "errors"

var (
	// ErrNoFrontend is returned by Run when no frontend is available: none
	// registered (import ingest/golang) and none in Options.Frontends.
	ErrNoFrontend = errors.New("ingest: no language frontend compiled in")
	// ErrBadOption is returned by Run for an invalid Options value.
	ErrBadOption = errors.New("ingest: invalid option")
)
