package ring

import "slices"

// With and Without only serve tests: rings in a running cluster are built
// from the membership with New.

// With returns a new ring that also holds m (replacing a member of the same
// id), keeping the tokens-per-weight of r.
func (r *Ring) With(m Member) *Ring {
	ms := append(r.Members(), m)
	return New(ms, r.vnodesPerWeight())
}

// Without returns a new ring without member id.
func (r *Ring) Without(id string) *Ring {
	ms := slices.DeleteFunc(r.Members(), func(m Member) bool { return m.ID == id })
	return New(ms, r.vnodesPerWeight())
}
