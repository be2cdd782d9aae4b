package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/grafo/grafo/kv"
)

// Dropper deletes cells outright, live or not, each only while it still
// has the given version (kv/engine.Engine.Drop).
type Dropper interface {
	Drop(ctx context.Context, keys [][]byte, versions []kv.Version) error
}

// ErrRingMoving is returned by Cleanup while ranges move between nodes:
// what this node will not own may still be the only copy being streamed.
var ErrRingMoving = errors.New("replica: ranges are moving; clean up after rebalancing")

// CleanupStats is what one Cleanup did.
type CleanupStats struct {
	Checked int // cells of partitions this node no longer replicates
	Purged  int // deleted: the owners hold them (or newer)
	Kept    int // kept: no owner answered with a version at least as new
}

// cleanupBatch is how many foreign cells are checked with the owners at a
// time.
const cleanupBatch = 500

// Cleanup deletes this node's copies of partitions it no longer
// replicates (a join or removal moved them), once their owners hold them:
// each batch is read from the owners at quorum (which repairs a stale
// owner on the way), and a local cell is purged only when the answer is
// at least as new. A cell the owners cannot vouch for stays.
func (c *Coordinator) Cleanup(ctx context.Context, p Dropper) (CleanupStats, error) {
	var st CleanupStats
	read, write := c.cfg.Members.Rings()
	if read == nil || read != write {
		return st, ErrRingMoving
	}
	if !read.Has(c.self) {
		return st, fmt.Errorf("replica: %s is not a member of the ring; nothing to clean against", c.self)
	}
	n, _, _ := c.cfg.Members.Settings()
	var keys [][]byte
	var vers []kv.Version
	flush := func() error {
		if len(keys) == 0 {
			return nil
		}
		cells, err := c.GetMany(ctx, keys, kv.Options{Level: kv.Quorum})
		if err != nil {
			return err
		}
		var pk [][]byte
		var pv []kv.Version
		for i, cl := range cells {
			// A tombstone the owners hold counts too: the zero Cell of an
			// absent key does not.
			if cl.Version.IsZero() || vers[i].Newer(cl.Version) {
				st.Kept++
				continue
			}
			pk, pv = append(pk, keys[i]), append(pv, vers[i])
		}
		if len(pk) > 0 {
			if err := p.Drop(ctx, pk, pv); err != nil {
				return err
			}
			st.Purged += len(pk)
		}
		keys, vers = keys[:0], vers[:0]
		return nil
	}
	var ferr error
	err := c.cfg.Local.ForEach(ctx, func(e kv.Entry) bool {
		if contains(read.Preference(kv.Partition(e.Key), n), c.self) {
			return true
		}
		st.Checked++
		keys = append(keys, append([]byte(nil), e.Key...))
		vers = append(vers, e.Cell.Version)
		if len(keys) >= cleanupBatch {
			ferr = flush()
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err == nil {
		err = flush()
	}
	return st, err
}
