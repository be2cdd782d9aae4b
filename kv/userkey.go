package kv

import (
	"context"
	"fmt"
)

// The raw key-value API (HTTP /v1/kv, GraphQL get/put/delete, RESP) has a
// keyspace of its own. Every internal row (the graph store's) is
// partition + Sep + row, so it holds a Sep byte; a user key is stored with
// its Sep and escape bytes escaped, so it never holds one. Raw keys can
// therefore never name, read or overwrite an internal row, whatever bytes
// they contain.
//
// The escape is 0x00 → 0x01 0x01 and 0x01 → 0x01 0x02; other bytes stay.
// It is the identity for keys without those two bytes (so keys written
// before it existed are still found), and it keeps byte order and
// prefixes (so a listing can walk user keys in order).
const escByte = 0x01

// UserKey maps a key of the raw API onto the store's keyspace.
func UserKey(k []byte) []byte {
	n := 0
	for _, b := range k {
		if b == Sep || b == escByte {
			n++
		}
	}
	if n == 0 {
		return k
	}
	out := make([]byte, 0, len(k)+n)
	for _, b := range k {
		switch b {
		case Sep:
			out = append(out, escByte, 0x01)
		case escByte:
			out = append(out, escByte, 0x02)
		default:
			out = append(out, b)
		}
	}
	return out
}

// FromUserKey inverts UserKey; ok is false for a key that is not a user
// key (an internal row, or a malformed escape).
func FromUserKey(k []byte) (user []byte, ok bool) {
	var out []byte
	for i := 0; i < len(k); i++ {
		switch b := k[i]; {
		case b == Sep:
			return nil, false
		case b == escByte:
			if i+1 >= len(k) || k[i+1] < 0x01 || k[i+1] > 0x02 {
				return nil, false
			}
			if out == nil {
				out = append(make([]byte, 0, len(k)), k[:i]...)
			}
			out = append(out, k[i+1]-1)
			i++
		case out != nil:
			out = append(out, b)
		}
	}
	if out == nil {
		return k, true
	}
	return out, true
}

// UserSpace returns s seen through UserKey: the Store the raw API front
// ends use. Wrapping twice is wrapping once.
func UserSpace(s Store) Store {
	if u, ok := s.(userSpace); ok {
		return u
	}
	return userSpace{s}
}

type userSpace struct{ s Store }

func (u userSpace) Put(ctx context.Context, key, value []byte, o Options) (Version, error) {
	return u.s.Put(ctx, UserKey(key), value, o)
}

func (u userSpace) Delete(ctx context.Context, key []byte, o Options) (Version, error) {
	return u.s.Delete(ctx, UserKey(key), o)
}

func (u userSpace) Get(ctx context.Context, key []byte, o Options) (Cell, error) {
	return u.s.Get(ctx, UserKey(key), o)
}

func (u userSpace) GetMany(ctx context.Context, keys [][]byte, o Options) ([]Cell, error) {
	mapped := make([][]byte, len(keys))
	for i, k := range keys {
		mapped[i] = UserKey(k)
	}
	return u.s.GetMany(ctx, mapped, o)
}

func (u userSpace) Write(ctx context.Context, writes []Write, o Options) error {
	mapped := make([]Write, len(writes))
	for i, w := range writes {
		w.Key = UserKey(w.Key)
		mapped[i] = w
	}
	return u.s.Write(ctx, mapped, o)
}

// Scan lists user keys only, returned as the user wrote them.
func (u userSpace) Scan(ctx context.Context, prefix, after []byte, limit int, o Options) ([]Entry, error) {
	if after != nil {
		after = UserKey(after)
	}
	ents, err := u.s.Scan(ctx, UserKey(prefix), after, limit, o)
	out := ents[:0]
	for _, e := range ents {
		if k, ok := FromUserKey(e.Key); ok {
			e.Key = k
			out = append(out, e)
		}
	}
	return out, err
}

// ScanRing lists user keys in order across the whole ring when the wrapped
// store can: prefix and cursor go through UserKey, answers come back
// through FromUserKey, and internal rows are never listed.
func (u userSpace) ScanRing(ctx context.Context, prefix, after []byte, limit int, keep func(key []byte) bool, o Options) ([]Entry, []byte, error) {
	rs, ok := u.s.(RingScanner)
	if !ok {
		return nil, nil, fmt.Errorf("%w: this store cannot list keys across the ring", ErrUnavailable)
	}
	if after != nil {
		after = UserKey(after)
	}
	ents, next, err := rs.ScanRing(ctx, UserKey(prefix), after, limit, func(k []byte) bool {
		uk, ok := FromUserKey(k)
		return ok && (keep == nil || keep(uk))
	}, o)
	if err != nil {
		return nil, nil, err
	}
	for i := range ents {
		ents[i].Key, _ = FromUserKey(ents[i].Key)
	}
	if next != nil {
		next, _ = FromUserKey(next)
	}
	return ents, next, nil
}
