package kv

import "bytes"

// Sep separates the partition from the row inside a key.
const Sep = 0x00

// MaxPairSize is the largest key + value, in bytes, that the store accepts.
const MaxPairSize = 10 * 1024

// Key builds partition + Sep + row. An empty row still gets the separator,
// so that a partition's rows all share the prefix partition+Sep.
func Key(partition, row string) []byte {
	k := make([]byte, 0, len(partition)+1+len(row))
	k = append(k, partition...)
	k = append(k, Sep)
	return append(k, row...)
}

// Split returns the partition and row of key. A key without a separator is
// all partition (the raw keys users put through /v1/kv).
func Split(key []byte) (partition, row []byte) {
	if i := bytes.IndexByte(key, Sep); i >= 0 {
		return key[:i], key[i+1:]
	}
	return key, nil
}

// Partition returns the part of key that is hashed onto the ring.
func Partition(key []byte) []byte {
	p, _ := Split(key)
	return p
}

// PartitionPrefix is the prefix every key of partition starts with when it
// has rows: partition + Sep.
func PartitionPrefix(partition []byte) []byte {
	p := make([]byte, 0, len(partition)+1)
	p = append(p, partition...)
	return append(p, Sep)
}

// CheckPair validates a key and value against the store's limits.
func CheckPair(key, value []byte) error {
	if len(Partition(key)) == 0 {
		return ErrEmptyKey
	}
	if len(key)+len(value) > MaxPairSize {
		return ErrTooLarge
	}
	return nil
}

// Clone copies parts into one allocation: for keys and values a call keeps
// after it returns (late replica writes, read repair, a queued commit)
// while the caller reuses its buffers.
func Clone(parts ...[]byte) [][]byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(parts))
	for i, p := range parts {
		start := len(buf)
		buf = append(buf, p...)
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}
