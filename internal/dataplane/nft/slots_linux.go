package nft

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"

	"github.com/switchboard/switchboard/internal/balance"
	"github.com/switchboard/switchboard/internal/dataplane"
	"github.com/switchboard/switchboard/internal/model"
)

// slotMap is a map of slots as programmed: ids[i] names slot i's value in
// values (0 for an empty slot). Interning the values keeps a 65537-slot
// table small and its comparison cheap whatever the value's length (4 to
// 20 bytes).
type slotMap struct {
	set    *nftables.Set
	ids    []uint32
	values [][]byte          // by id; values[0] is unused
	index  map[string]uint32 // value → id
	// fp is the fingerprint of the targets ids were computed from; 0 when
	// they were read from the kernel.
	fp uint64
}

func newSlotMap(set *nftables.Set, slots int) *slotMap {
	return &slotMap{set: set, ids: make([]uint32, slots), values: [][]byte{nil}, index: map[string]uint32{}}
}

// intern returns v's id, adding it when new.
func (m *slotMap) intern(v []byte) uint32 {
	if id, ok := m.index[string(v)]; ok {
		return id
	}
	id := uint32(len(m.values))
	m.values = append(m.values, v)
	m.index[string(v)] = id
	return id
}

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
		if have == nil {
			var err error
			if have, err = b.readMap(s); err != nil {
				return err
			}
			b.maps[key] = have
		}
		want, err := wantSlots(s, have, b.scratch, &b.maglev)
		if err != nil {
			return fmt.Errorf("dataplane/nft: %s: %w", s.d.Name, err)
		}
		b.scratch = want
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
		if len(have.values) > 4*len(s.targets)+16 {
			have.compact() // targets came and went: forget the old values
		}
	}
	return nil
}

// compact drops the values no slot uses and renumbers the rest.
func (m *slotMap) compact() {
	values, index := [][]byte{nil}, map[string]uint32{}
	renum := make(map[uint32]uint32)
	for i, id := range m.ids {
		if id == 0 {
			continue
		}
		n, ok := renum[id]
		if !ok {
			n = uint32(len(values))
			values = append(values, m.values[id])
			index[string(m.values[id])] = n
			renum[id] = n
		}
		m.ids[i] = n
	}
	m.values, m.index = values, index
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

// value encodes t as s's map holds it: the address (dsr), or the address
// and the port padded to 32 bits, as nftables lays out a concatenation (nat).
func value(s *service, t dataplane.Target) []byte {
	v := t.Addr.Addr().AsSlice()
	if s.mode == model.ModeDSR {
		return v
	}
	v = binary.BigEndian.AppendUint16(v, t.Addr.Port())
	return append(v, 0, 0)
}

// wantSlots is s's Maglev table as ids of m's values (0 when the service
// has no target), written into buf when it is large enough.
func wantSlots(s *service, m *slotMap, buf []uint32, sc *maglevScratch) ([]uint32, error) {
	var ids []uint32
	if cap(buf) >= s.slots {
		ids = buf[:s.slots]
		clear(ids)
	} else {
		ids = make([]uint32, s.slots)
	}
	if len(s.targets) == 0 {
		return ids, nil
	}
	names := make([]string, len(s.targets))
	weights := make([]int, len(s.targets))
	for i, t := range s.targets {
		names[i], weights[i] = sc.name(t.Addr), t.Weight
	}
	table, err := balance.MaglevInto(sc.table, names, weights, s.slots)
	if err != nil {
		return nil, err
	}
	sc.table = table
	enc := make([]uint32, len(s.targets))
	for i, t := range s.targets {
		enc[i] = m.intern(value(s, t))
	}
	for i, ti := range table {
		ids[i] = enc[ti]
	}
	return ids, nil
}

// maglevScratch keeps what one table's build leaves for the next: the
// table itself and the targets' names, so that a change of one target in
// a thousand neither allocates the table nor formats every address again.
type maglevScratch struct {
	table []int32
	names map[netip.AddrPort]string
}

// name is a's Maglev name, its "address:port" form.
func (sc *maglevScratch) name(a netip.AddrPort) string {
	if n, ok := sc.names[a]; ok {
		return n
	}
	if sc.names == nil || len(sc.names) >= 1<<16 {
		sc.names = map[netip.AddrPort]string{} // bounded: start again
	}
	n := a.String()
	sc.names[a] = n
	return n
}

// element encodes slot i, whose key is key, with value id.
func element(m *slotMap, key []byte, id uint32) nftables.SetElement {
	e := nftables.SetElement{Key: key}
	if id != 0 {
		e.Val = m.values[id]
	}
	return e
}

// keySlab hands out the 4-byte keys of slots from shared blocks rather
// than one allocation each; a key is never written after it is handed out.
type keySlab []byte

func (k *keySlab) key(i int) []byte {
	if len(*k)+4 > cap(*k) {
		*k = make([]byte, 0, 4096)
	}
	*k = binary.NativeEndian.AppendUint32(*k, uint32(i))
	n := len(*k)
	return (*k)[n-4 : n : n]
}

// readMap reads a service's map from the kernel.
func (b *Backend) readMap(s *service) (*slotMap, error) {
	set, err := b.conn.GetSetByName(&nftables.Table{Name: TableName, Family: s.family}, s.mapName)
	if err != nil {
		return nil, fmt.Errorf("dataplane/nft: %s: map %s: %w", s.d.Name, s.mapName, err)
	}
	m := newSlotMap(set, s.slots)
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
		if i >= len(m.ids) {
			stale++ // cannot be: the map's name carries its size
			continue
		}
		m.ids[i] = m.intern(e.Val)
	}
	if stale > 0 {
		return nil, fmt.Errorf("dataplane/nft: %s: map %s holds %d slots past its size", s.d.Name, s.mapName, stale)
	}
	return m, nil
}

// writeSlots makes m's slots equal want. Each transaction covers a range
// of slots, deleting and adding the changed ones together, so that no slot
// is ever empty in between; transactions hold at most TxnSize slot
// changes and messages at most BatchSize elements.
func (b *Backend) writeSlots(m *slotMap, want []uint32) (added, changed, removed int, err error) {
	// Sized for the whole change (or one transaction of it): a thousand
	// element structs grown by appending were a large part of a sync's
	// garbage.
	n := 0
	for i, w := range want {
		if m.ids[i] != w {
			n++
		}
	}
	n = min(n, b.cfg.TxnSize)
	dels, adds := make([]nftables.SetElement, 0, n), make([]nftables.SetElement, 0, n)
	pending := make([]int, 0, n) // slots changed in the open transaction
	var keys keySlab
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
			m.ids[i] = want[i]
		}
		dels, adds, pending = dels[:0], adds[:0], pending[:0]
		return nil
	}
	for i, w := range want {
		h := m.ids[i]
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
		key := keys.key(i)
		if h != 0 {
			dels = append(dels, element(m, key, 0))
		}
		if w != 0 {
			adds = append(adds, element(m, key, w))
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
	got := make([]uint32, len(m.ids))
	for _, e := range els {
		if i := int(binaryutil.NativeEndian.Uint32(e.Key)); i < len(got) {
			got[i] = m.intern(e.Val)
		}
	}
	want, differ, first := 0, 0, -1
	for i, id := range m.ids {
		if id != 0 {
			want++
		}
		if got[i] != id {
			differ++
			if first < 0 {
				first = i
			}
		}
	}
	if differ > 0 || len(els) != want {
		f := max(first, 0)
		return fmt.Errorf("map %s holds %d elements where %d were written; %d slots differ, the first is %d: %x, not %x",
			m.set.Name, len(els), want, differ, f, m.values[got[f]], m.values[m.ids[f]])
	}
	return nil
}
