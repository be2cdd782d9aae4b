package engine

import "errors"

// Sentinel errors of the engine. kv's sentinels (kv.ErrTooLarge,
// kv.ErrEmptyKey, kv.ErrNotFound, kv.ErrClosed) are returned where they
// apply; these cover what is specific to local storage.
var (
	// ErrCorrupt is returned when a stored cell cannot be decoded.
	ErrCorrupt = errors.New("engine: corrupt cell")

	// ErrInvalidVersion is returned by Apply for an entry whose version
	// cannot be stored (the zero version, or a node id longer than
	// kv.MaxNodeIDLen bytes), or by
	// Purge when keys and versions differ in length.
	ErrInvalidVersion = errors.New("engine: invalid version")

	// ErrLocked is returned by Open when another process holds the file.
	ErrLocked = errors.New("engine: database file is locked by another process")

	// ErrInvalidConfig is returned by Config.Validate.
	ErrInvalidConfig = errors.New("engine: invalid config")

	// ErrProbe is returned by Probe when the probe key did not read back
	// as written.
	ErrProbe = errors.New("engine: probe failed")
)
