package replica

import (
	"context"
	"fmt"
	"slices"

	"github.com/grafo/grafo/kv"
)

// Digest reads. A read that needs R > 1 answers takes the data from one
// replica (this node when it is one: no round trip) and only versions
// from the other R-1 (methodDigest), as Cassandra's digest reads do: the
// values cross the network once. Versions are unique per write, so a
// digest that matches the data's version vouches for its value. A key
// whose newest version only a digest reported is then read whole from
// that replica, one more round trip, counted by
// grafo_kv_read_digest_fetches_total. Spares, asked when a replica fails
// or is late, send data: the one they replace may have been the data
// replica.

// digestNodes lists the replicas a read asks for versions only: of the
// first need owners in order that the membership sees alive (those the
// fan-out asks), all but the first. None when need < 2. The fan-out
// decides who is alive again a moment later; a node that changed state
// in between only turns a digest into data or the reverse, and resolve
// copes with either.
func (c *Coordinator) digestNodes(order []string, need int) []string {
	if need < 2 {
		return nil
	}
	var out []string
	asked := 0
	for _, id := range order {
		if asked == need {
			break
		}
		if !c.cfg.Members.Alive(id) {
			continue
		}
		if asked > 0 {
			out = append(out, id)
		}
		asked++
	}
	return out
}

// resolve returns the newest cell of every key among answers, values
// included. A key whose newest version came from a digest alone is read
// whole from the replica that reported it (a newer version found there
// by then serves as well: writeBack puts it on a quorum); a tombstone
// needs no value. The digest answers then hold the resolved cells where
// their versions match, so that writeBack and repair see them as data.
func (c *Coordinator) resolve(ctx context.Context, answers []cellsReply, keys [][]byte, digests []string) ([]kv.Cell, error) {
	newest := newestData(make([]kv.Cell, len(keys)), answers, digests)
	if len(digests) == 0 {
		return newest, nil
	}
	// from[i] is the digest answer newer than every data answer for key i.
	from := map[int]int{}
	for k, a := range answers {
		if !slices.Contains(digests, a.node) {
			continue
		}
		for i, cl := range a.val {
			if j, ok := from[i]; cl.Version.Newer(newest[i].Version) && (!ok || cl.Version.Newer(answers[j].val[i].Version)) {
				from[i] = k
			}
		}
	}
	fetch := map[int][]int{} // answer → keys to read whole from it
	for i, k := range from {
		if cl := answers[k].val[i]; cl.Tombstone {
			newest[i] = cl // a deletion carries no value
		} else {
			fetch[k] = append(fetch[k], i)
		}
	}
	for k, idxs := range fetch {
		a := answers[k]
		c.metrics.digestFetches.Add(float64(len(idxs)))
		cells, err := c.getCoalesced(ctx, a.node, pick(keys, idxs))
		if err == nil && len(cells) != len(idxs) {
			err = errBadMessage
		}
		for j, i := range idxs {
			if err == nil && a.val[i].Version.Newer(cells[j].Version) {
				err = fmt.Errorf("it sent version %v after a digest of %v", cells[j].Version, a.val[i].Version)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read: %s reported the newest version of %d key(s) but did not send it: %v", kv.ErrUnavailable, a.node, len(idxs), err)
		}
		for j, i := range idxs {
			newest[i] = kv.Newest(newest[i], cells[j])
			a.val[i] = cells[j] // what that replica holds now
		}
	}
	for _, a := range answers {
		if slices.Contains(digests, a.node) {
			for i, cl := range a.val {
				if cl.Version.Compare(newest[i].Version) == 0 {
					a.val[i] = newest[i]
				}
			}
		}
	}
	return newest, nil
}

// newestData folds into newest the cells of the answers that carry data
// (not those of digests) and returns it.
func newestData(newest []kv.Cell, answers []cellsReply, digests []string) []kv.Cell {
	for _, a := range answers {
		if !slices.Contains(digests, a.node) {
			for i, cl := range a.val {
				newest[i] = kv.Newest(newest[i], cl)
			}
		}
	}
	return newest
}
