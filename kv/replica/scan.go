package replica

import (
	"bytes"
	"context"
	"sort"
	"time"

	"github.com/grafo/grafo/kv"
)

// Scan implements kv.Store. It asks R replicas of prefix's partition and
// merges their pages by newest version.
func (c *Coordinator) Scan(ctx context.Context, prefix, after []byte, limit int, o kv.Options) (out []kv.Entry, err error) {
	if len(kv.Partition(prefix)) == 0 {
		return nil, kv.ErrEmptyKey
	}
	start := time.Now()
	rs := c.replicasFor(kv.Partition(prefix))
	need, err := c.need(false, o, len(rs.owners))
	if err != nil {
		return nil, err
	}
	defer func() { c.metrics.observe("scan", start, err) }()
	page := 1000
	if limit > 0 && limit+16 < page {
		page = limit + 16
	}
	for {
		ents, more, next, err := c.scanRound(ctx, rs, prefix, after, page, need)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if e.Cell.Live() {
				out = append(out, e)
				if limit > 0 && len(out) == limit {
					return out, nil
				}
			}
		}
		if !more {
			return out, nil
		}
		after = next
	}
}

// scanPage is one replica's answer to a scan round.
type scanPage struct {
	ents []kv.Entry
	more bool // the replica stopped at its page limit
}

// scanRound gets one page from need replicas and merges it.
func (c *Coordinator) scanRound(ctx context.Context, rs replicaSet, prefix, after []byte, page, need int) ([]kv.Entry, bool, []byte, error) {
	req := scanRequest{Prefix: prefix, After: after, Limit: page}
	f := fanOut(c, ctx, withRequest, rs.owners, func(ctx context.Context, id string) (scanPage, error) {
		cctx, cancel := context.WithTimeout(ctx, c.timeout)
		defer cancel()
		ents, more, err := c.scanFrom(cctx, id, req)
		return scanPage{ents, more}, err
	})
	answers, ctxErr := f.collect(ctx, need)
	f.release(nil)
	if len(answers) < need {
		return nil, false, nil, errQuorum(len(answers), need, "answers", ctxErr, f.statusLine(rs.owners))
	}
	ents, cut := mergePages(answers)
	return ents, cut != nil, cut, nil
}

// mergePages merges replicas' pages by newest version, in key order. When
// a replica hit its page limit, entries beyond its last key may be missing
// from its answer, so the merged page is cut at the smallest such last
// key, which it returns (nil when no replica has more).
func mergePages(answers []reply[scanPage]) ([]kv.Entry, []byte) {
	var cut []byte
	for _, a := range answers {
		if a.val.more && len(a.val.ents) > 0 {
			last := a.val.ents[len(a.val.ents)-1].Key
			if cut == nil || bytes.Compare(last, cut) < 0 {
				cut = last
			}
		}
	}
	merged := map[string]kv.Cell{}
	for _, a := range answers {
		for _, e := range a.val.ents {
			if cut != nil && bytes.Compare(e.Key, cut) > 0 {
				continue
			}
			merged[string(e.Key)] = kv.Newest(merged[string(e.Key)], e.Cell)
		}
	}
	out := make([]kv.Entry, 0, len(merged))
	for k, cl := range merged {
		out = append(out, kv.Entry{Key: []byte(k), Cell: cl})
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Key, out[j].Key) < 0 })
	return out, cut
}
