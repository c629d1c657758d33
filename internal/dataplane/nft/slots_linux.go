package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/model"
)

// reconcileSlots brings every service's map to its Maglev table, writing
// only the slots whose target differs from what is programmed.
func (b *Backend) reconcileSlots(ctx context.Context, svcs []*service, rep *dataplane.Report) error {
	for _, s := range svcs {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := mapKey{s.family, s.mapName}
		have := b.maps[key]
		fp := fingerprint(s)
		if have != nil && have.fp == fp {
			continue // the same targets and weights as written: the same table
		}
		want, err := wantSlots(s, b.scratch)
		if err != nil {
			return fmt.Errorf("dataplane/nft: %s: %w", s.d.Name, err)
		}
		b.scratch = want
		if have == nil {
			if have, err = b.readMap(s); err != nil {
				return err
			}
			b.maps[key] = have
		}
		added, changed, removed, err := b.writeSlots(have, want)
		rep.Added += added
		rep.Updated += changed
		rep.Removed += removed
		if err != nil {
			return fmt.Errorf("dataplane/nft: %s: %w", s.d.Name, err)
		}
		// A large load is where elements get lost silently: count them.
		if added+changed > b.cfg.BatchSize {
			if err := b.verify(have); err != nil {
				return fmt.Errorf("dataplane/nft: %s: %w", s.d.Name, err)
			}
		}
		have.fp = fp
	}
	return nil
}

// fingerprint hashes what decides s's table: its targets, weights and size.
func fingerprint(s *service) uint64 {
	h := fnv.New64a()
	b := make([]byte, 0, 64)
	b = binary.BigEndian.AppendUint64(b, uint64(s.slots))
	b = append(b, s.mode...)
	h.Write(b)
	for _, t := range s.targets {
		b = t.Addr.Addr().AppendTo(b[:0])
		b = binary.BigEndian.AppendUint16(b, t.Addr.Port())
		b = binary.BigEndian.AppendUint64(b, uint64(t.Weight))
		h.Write(b)
	}
	return h.Sum64() | 1 // never 0, the value of a map read from the kernel
}

// wantSlots is s's Maglev table, each slot encoded as the map value of its
// target (0 when the service has no target), written into buf when it is
// large enough.
func wantSlots(s *service, buf []uint64) ([]uint64, error) {
	var vals []uint64
	if cap(buf) >= s.slots {
		vals = buf[:s.slots]
		clear(vals)
	} else {
		vals = make([]uint64, s.slots)
	}
	if len(s.targets) == 0 {
		return vals, nil
	}
	names := make([]string, len(s.targets))
	weights := make([]int, len(s.targets))
	for i, t := range s.targets {
		names[i], weights[i] = t.Addr.String(), t.Weight
	}
	table, err := balance.Maglev(names, weights, s.slots)
	if err != nil {
		return nil, err
	}
	enc := make([]uint64, len(s.targets))
	for i, t := range s.targets {
		a := t.Addr.Addr().As4()
		v := uint64(binary.BigEndian.Uint32(a[:])) << 32
		if s.mode != model.ModeDSR {
			v |= uint64(t.Addr.Port()) << 16
		}
		enc[i] = v
	}
	for i, ti := range table {
		vals[i] = enc[ti]
	}
	return vals, nil
}

// element encodes slot i with value v (as wantSlots encodes it).
func element(m *slotMap, i int, v uint64) nftables.SetElement {
	e := nftables.SetElement{Key: binaryutil.NativeEndian.PutUint32(uint32(i))}
	if v == 0 {
		return e
	}
	val := make([]byte, 8)
	binary.BigEndian.PutUint64(val, v)
	if m.set.DataType.Bytes <= 4 {
		val = val[:4]
	}
	e.Val = val
	return e
}

// readMap reads a service's map from the kernel.
func (b *Backend) readMap(s *service) (*slotMap, error) {
	set, err := b.conn.GetSetByName(&nftables.Table{Name: TableName, Family: s.family}, s.mapName)
	if err != nil {
		return nil, fmt.Errorf("dataplane/nft: %s: map %s: %w", s.d.Name, s.mapName, err)
	}
	m := &slotMap{set: set, vals: make([]uint64, s.slots)}
	els, err := b.conn.GetSetElements(set)
	if err != nil {
		return nil, fmt.Errorf("dataplane/nft: %s: read map %s: %w", s.d.Name, s.mapName, err)
	}
	stale := 0
	for _, e := range els {
		if len(e.Key) != 4 {
			continue
		}
		i := int(binaryutil.NativeEndian.Uint32(e.Key))
		if i >= len(m.vals) {
			stale++ // cannot be: the map's name carries its size
			continue
		}
		m.vals[i] = decode(e.Val)
	}
	if stale > 0 {
		return nil, fmt.Errorf("dataplane/nft: %s: map %s holds %d slots past its size", s.d.Name, s.mapName, stale)
	}
	return m, nil
}

func decode(val []byte) uint64 {
	var b [8]byte
	copy(b[:], val)
	return binary.BigEndian.Uint64(b[:])
}

// writeSlots makes m's slots equal want. Each transaction covers a range
// of slots, deleting and adding the changed ones together, so that no slot
// is ever empty in between; transactions hold at most TxnSize slot
// changes and messages at most BatchSize elements.
func (b *Backend) writeSlots(m *slotMap, want []uint64) (added, changed, removed int, err error) {
	var dels, adds []nftables.SetElement
	var pending []int // slots changed in the open transaction
	flush := func() error {
		if len(dels)+len(adds) == 0 {
			return nil
		}
		for i := 0; i < len(dels); i += b.cfg.BatchSize {
			if err := b.conn.SetDeleteElements(m.set, dels[i:min(i+b.cfg.BatchSize, len(dels))]); err != nil {
				return err
			}
		}
		for i := 0; i < len(adds); i += b.cfg.BatchSize {
			if err := b.conn.SetAddElements(m.set, adds[i:min(i+b.cfg.BatchSize, len(adds))]); err != nil {
				return err
			}
		}
		if err := b.conn.Flush(); err != nil {
			return fmt.Errorf("write map %s: %w", m.set.Name, err)
		}
		for _, i := range pending {
			m.vals[i] = want[i]
		}
		dels, adds, pending = dels[:0], adds[:0], pending[:0]
		return nil
	}
	for i, w := range want {
		h := m.vals[i]
		if h == w {
			continue
		}
		switch {
		case h == 0:
			added++
		case w == 0:
			removed++
		default:
			changed++
		}
		if h != 0 {
			dels = append(dels, element(m, i, 0))
		}
		if w != 0 {
			adds = append(adds, element(m, i, w))
		}
		pending = append(pending, i)
		if len(pending) >= b.cfg.TxnSize {
			if err := flush(); err != nil {
				return added, changed, removed, err
			}
		}
	}
	return added, changed, removed, flush()
}

// verify reads m back and compares it slot by slot with what we wrote.
func (b *Backend) verify(m *slotMap) error {
	els, err := b.conn.GetSetElements(m.set)
	if err != nil {
		return fmt.Errorf("read back map %s: %w", m.set.Name, err)
	}
	got := make([]uint64, len(m.vals))
	for _, e := range els {
		if i := int(binaryutil.NativeEndian.Uint32(e.Key)); i < len(got) {
			got[i] = decode(e.Val)
		}
	}
	want, differ, first := 0, 0, -1
	for i, v := range m.vals {
		if v != 0 {
			want++
		}
		if got[i] != v {
			differ++
			if first < 0 {
				first = i
			}
		}
	}
	if differ > 0 || len(els) != want {
		return fmt.Errorf("map %s holds %d elements where %d were written; %d slots differ, the first is %d: %x, not %x", m.set.Name, len(els), want, differ, first, got[max(first, 0)], m.vals[max(first, 0)])
	}
	return nil
}
