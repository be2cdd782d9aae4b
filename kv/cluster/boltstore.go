package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// errKeyNotFound is what raft expects from a StableStore for a missing key:
// it compares the message, so the text must stay exactly "not found".
var errKeyNotFound = errors.New("not found")

var (
	bucketLogs   = []byte("logs")
	bucketStable = []byte("stable")
)

// boltStore is raft's LogStore and StableStore in one bbolt file. It is
// ours rather than raft-boltdb because that module pins an old go-metrics
// that does not build with our raft version; the format is also simpler:
// log keys are big-endian indexes (so bbolt's order is log order) and
// values a fixed binary layout, no msgpack.
type boltStore struct {
	db *bolt.DB
}

var (
	_ raft.LogStore    = (*boltStore)(nil)
	_ raft.StableStore = (*boltStore)(nil)
)

func openBoltStore(path string) (*boltStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("cluster: open raft store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketLogs, bucketStable} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("cluster: init raft store: %w", err)
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) Close() error { return s.db.Close() }

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// FirstIndex returns the lowest stored index, 0 when empty.
func (s *boltStore) FirstIndex() (uint64, error) {
	return s.edgeIndex((*bolt.Cursor).First)
}

// LastIndex returns the highest stored index, 0 when empty.
func (s *boltStore) LastIndex() (uint64, error) {
	return s.edgeIndex((*bolt.Cursor).Last)
}

// edgeIndex returns the index of the log entry seek moves to, 0 when
// there is none.
func (s *boltStore) edgeIndex(seek func(*bolt.Cursor) ([]byte, []byte)) (uint64, error) {
	var idx uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if k, _ := seek(tx.Bucket(bucketLogs).Cursor()); k != nil {
			idx = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return idx, err
}

// GetLog reads one entry; raft.ErrLogNotFound when absent.
func (s *boltStore) GetLog(index uint64, log *raft.Log) error {
	return s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketLogs).Get(u64(index))
		if v == nil {
			return raft.ErrLogNotFound
		}
		return decodeLog(v, log)
	})
}

func (s *boltStore) StoreLog(log *raft.Log) error { return s.StoreLogs([]*raft.Log{log}) }

// StoreLogs writes the entries in one transaction (one fsync).
func (s *boltStore) StoreLogs(logs []*raft.Log) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLogs)
		for _, l := range logs {
			if err := b.Put(u64(l.Index), encodeLog(l)); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRange removes entries min..max inclusive.
func (s *boltStore) DeleteRange(min, max uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketLogs).Cursor()
		for k, _ := c.Seek(u64(min)); k != nil && binary.BigEndian.Uint64(k) <= max; k, _ = c.Next() {
			if err := c.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *boltStore) Set(key, val []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketStable).Put(key, val)
	})
}

// Get returns a copy of the value; errKeyNotFound when absent.
func (s *boltStore) Get(key []byte) ([]byte, error) {
	var val []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketStable).Get(key)
		if v == nil {
			return errKeyNotFound
		}
		val = append([]byte(nil), v...)
		return nil
	})
	return val, err
}

func (s *boltStore) SetUint64(key []byte, val uint64) error { return s.Set(key, u64(val)) }

func (s *boltStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("cluster: raft store: value of %q is %d bytes, not a uint64", key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// Log layout: index 8, term 8, type 1, appendedAt unix nanos 8,
// len(data) 4, data, len(extensions) 4, extensions.
const logHeader = 8 + 8 + 1 + 8

func encodeLog(l *raft.Log) []byte {
	b := make([]byte, 0, logHeader+8+len(l.Data)+len(l.Extensions))
	b = binary.BigEndian.AppendUint64(b, l.Index)
	b = binary.BigEndian.AppendUint64(b, l.Term)
	b = append(b, byte(l.Type))
	var at int64
	if !l.AppendedAt.IsZero() {
		at = l.AppendedAt.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(at))
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Data)))
	b = append(b, l.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(l.Extensions)))
	return append(b, l.Extensions...)
}

var errCorruptLog = errors.New("cluster: raft store: corrupt log entry")

func decodeLog(b []byte, l *raft.Log) error {
	if len(b) < logHeader+4 {
		return errCorruptLog
	}
	l.Index = binary.BigEndian.Uint64(b)
	l.Term = binary.BigEndian.Uint64(b[8:])
	l.Type = raft.LogType(b[16])
	l.AppendedAt = time.Time{}
	if at := int64(binary.BigEndian.Uint64(b[17:])); at != 0 {
		l.AppendedAt = time.Unix(0, at)
	}
	rest := b[logHeader:]
	data, rest, ok := chunk(rest)
	if !ok {
		return errCorruptLog
	}
	ext, _, ok := chunk(rest)
	if !ok {
		return errCorruptLog
	}
	// Copies: bbolt's memory is only valid inside the transaction.
	l.Data = clone(data)
	l.Extensions = clone(ext)
	return nil
}

func chunk(b []byte) (c, rest []byte, ok bool) {
	if len(b) < 4 {
		return nil, nil, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(len(b)-4) < uint64(n) {
		return nil, nil, false
	}
	return b[4 : 4+n], b[4+n:], true
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
