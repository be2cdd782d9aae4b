package ingest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"hash/adler32"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sync"
)

// Checksum reads r to the end and returns its MD5 (32 lower-case hex
// digits), Adler-32 (8 lower-case hex digits) and length. Both sums are
// computed in one pass.
func Checksum(r io.Reader) (md5hex, adler string, size int64, err error) {
	m, a := md5.New(), adler32.New()
	size, err = io.Copy(io.MultiWriter(m, a), r)
	if err != nil {
		return "", "", 0, fmt.Errorf("ingest: checksum: %w", err)
	}
	return hex.EncodeToString(m.Sum(nil)), fmt.Sprintf("%08x", a.Sum32()), size, nil
}

// ChecksumFile returns the File record of the file at root/rel (rel
// slash-separated), with its checksums of the bytes on disk.
func ChecksumFile(root, rel string) (File, error) {
	f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return File{}, fmt.Errorf("ingest: %w", err)
	}
	defer f.Close()
	m, a, n, err := Checksum(f)
	if err != nil {
		return File{}, fmt.Errorf("ingest: %s: %w", rel, err)
	}
	return File{Path: rel, Name: path.Base(rel), MD5: m, Adler32: a, Size: n}, nil
}

// checksumAll checksums rels concurrently (the work is I/O and hashing, so
// a few more workers than cores), preserving order. done is called once per
// file, from any goroutine.
func checksumAll(ctx context.Context, root string, rels []string, done func()) ([]File, error) {
	out := make([]File, len(rels))
	work := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	workers := min(runtime.GOMAXPROCS(0)*2, 16)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				f, err := ChecksumFile(root, rels[i])
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				out[i] = f
				if done != nil {
					done()
				}
			}
		}()
	}
feed:
	for i := range rels {
		select {
		case work <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ingest: checksum: %w", err)
	}
	return out, firstErr
}
