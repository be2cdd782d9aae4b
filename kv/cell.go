package kv

// Cell is one stored version of a key: a value, or a tombstone recording a
// delete so that the delete wins over older writes on other replicas.
type Cell struct {
	Value     []byte
	Version   Version
	Tombstone bool
}

// Live reports whether the cell holds a value (not a tombstone, not empty).
func (c Cell) Live() bool { return !c.Tombstone && !c.Version.IsZero() }

// Entry is a key with its cell, as returned by scans.
type Entry struct {
	Key  []byte
	Cell Cell
}

// Newest returns whichever of a and b has the newer version.
func Newest(a, b Cell) Cell {
	if b.Version.Newer(a.Version) {
		return b
	}
	return a
}
