package balance

import (
	"errors"
	"fmt"
	"math/big"
)

// DefaultTableSize is the default number of slots of a Maglev table: a
// prime well above 100 times the largest group we expect, so that each
// target's share is within about 1% of its weight's.
const DefaultTableSize = 65537

// Maglev fills a lookup table of m slots (m prime) with indexes into names,
// each name taking slots in proportion to its weight, by the algorithm of
// Google's Maglev paper (NSDI 2016): each name walks its own permutation of
// the slots, given by an offset and a skip derived from its hash, and the
// names take turns claiming the next free slot of their permutation.
// Weighted turns give a name with weight w a turn w/max times per round.
//
// The table depends only on the names, weights and m, never on their
// order in memory or the process, so every node of a cluster builds the
// same one; and when a name joins or leaves, only about 1/n of the slots
// move. Names with weight 0 get no slots. It fails when m is not a prime
// greater than 1, when names and weights differ in length, when a name
// repeats, or when no weight is positive.
func Maglev(names []string, weights []int, m int) ([]int32, error) {
	return MaglevInto(nil, names, weights, m)
}

// MaglevInto is Maglev writing into table when it has room for m slots,
// so that a caller rebuilding the same table on every change keeps one.
func MaglevInto(table []int32, names []string, weights []int, m int) ([]int32, error) {
	if m < 2 || !big.NewInt(int64(m)).ProbablyPrime(0) { // exact below 2⁶⁴
		return nil, fmt.Errorf("balance: maglev table size %d is not a prime", m)
	}
	if len(names) != len(weights) {
		return nil, errors.New("balance: maglev needs one weight per name")
	}
	maxW := 0
	for _, w := range weights {
		maxW = max(maxW, w)
	}
	if maxW <= 0 {
		return nil, errors.New("balance: maglev needs a name with a positive weight")
	}
	seen := make(map[string]bool, len(names))
	offset := make([]uint64, len(names))
	skip := make([]uint64, len(names))
	for i, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("balance: maglev name %q repeats", n)
		}
		seen[n] = true
		h := HashString(n)
		offset[i] = h % uint64(m)
		skip[i] = mix(h)%uint64(m-1) + 1
	}
	if cap(table) >= m {
		table = table[:m]
	} else {
		table = make([]int32, m)
	}
	// used marks the filled slots: the walk tests it at every step, and a
	// bit per slot (8 KiB for 65,537) stays in the first-level cache where
	// the table (256 KiB) does not.
	used := make([]uint64, (m+63)/64)
	// pos is where each name's permutation stands, offset + j·skip mod m,
	// advanced by adding skip (< m) and subtracting m at most once: the
	// same walk without a multiplication and a division per step. It walks
	// in place over offset, which is not needed again.
	pos := offset
	credit := make([]int, len(names)) // weighted turns owed
	// The walk costs about m/free steps per claim, so the last few hundred
	// free slots cost most of all steps (m·ln m in total). With few slots
	// left it is cheaper to ask which free slot comes first in the name's
	// permutation: counted from the name's position, slot s comes at step
	// (s − pos)·skip⁻¹ mod m, and every slot the walk passed is already
	// taken, so the free slot of fewest steps is exactly the one the walk
	// would reach.
	tail := tailSize(m)
	var free []int32 // the free slots, once at most tail remain
	var inv []uint64 // skip⁻¹ mod m per name, computed when first needed
	for filled := 0; filled < m; {
		for i := range names {
			credit[i] += weights[i]
			for credit[i] >= maxW && filled < m {
				credit[i] -= maxW
				if m-filled <= tail {
					if free == nil {
						free, inv = freeSlots(used, m), make([]uint64, len(names))
					}
					if inv[i] == 0 {
						inv[i] = modPow(skip[i], uint64(m-2), uint64(m))
					}
					k := firstFree(free, pos[i], inv[i], uint64(m))
					table[free[k]] = int32(i)
					free[k] = free[len(free)-1]
					free = free[:len(free)-1]
					filled++
					continue
				}
				var slot uint64
				slot, pos[i] = walk(used, pos[i], skip[i], uint64(m))
				table[slot] = int32(i)
				filled++
			}
		}
	}
	return table, nil
}

// walk follows a permutation from p by steps of sk (mod m) to the first
// slot not marked in used, marks it, and returns it and the position after
// it. Two things make it fast. It takes m off without a branch: whether
// p+sk passes m is a coin toss, and a branch on it was mispredicted every
// other step. And it follows the even and the odd steps as two walks of
// stride 2·sk, so that the two additions do not wait on each other.
func walk(used []uint64, p, sk, m uint64) (slot, next uint64) {
	sk2 := addMod(sk, sk, m)
	q := addMod(p, sk, m)
	for {
		if w, bit := p>>6, uint64(1)<<(p&63); used[w]&bit == 0 {
			used[w] |= bit
			return p, q
		}
		if w, bit := q>>6, uint64(1)<<(q&63); used[w]&bit == 0 {
			used[w] |= bit
			return q, addMod(q, sk, m)
		}
		p, q = addMod(p, sk2, m), addMod(q, sk2, m)
	}
}

// addMod returns a+b mod m for a, b < m, without a branch.
func addMod(a, b, m uint64) uint64 {
	d := a + b - m
	return d + m&uint64(int64(d)>>63) // d, or a+b when a+b < m
}

// tailSize is the number of free slots below which Maglev finds a name's
// next slot by index rather than by walking. Late in the fill a walk's
// steps are cheap (nearly every slot is taken, so the branch predicts
// well) but there are m/free of them; indexing costs a multiplication
// and a division per free slot. Measured for 1,000 names in 65,537 slots,
// the cut is best near √(m/2) (181 here): 8% below walking to the end.
func tailSize(m int) int {
	t := 1
	for 2*t*t < m {
		t++
	}
	return t
}

// freeSlots lists the slots not marked in used.
func freeSlots(used []uint64, m int) []int32 {
	var free []int32
	for s := range m {
		if used[s>>6]&(1<<(s&63)) == 0 {
			free = append(free, int32(s))
		}
	}
	return free
}

// firstFree returns the position in free of the slot that comes first in
// the permutation offset + j·skip (mod m), given inv = skip⁻¹ mod m.
func firstFree(free []int32, offset, inv, m uint64) int {
	best, bestJ := 0, m
	for k, s := range free {
		d := uint64(s) + m - offset // s − offset, kept non-negative
		if d >= m {
			d -= m
		}
		if j := d * inv % m; j < bestJ {
			best, bestJ = k, j
		}
	}
	return best
}

// modPow returns b^e mod m, for m < 2^32.
func modPow(b, e, m uint64) uint64 {
	r := uint64(1)
	for b %= m; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = r * b % m
		}
		b = b * b % m
	}
	return r
}

// Moved counts the slots whose name differs between two tables of the
// same size, comparing names rather than indexes; a table size mismatch
// counts every slot.
func Moved(oldTable []int32, oldNames []string, newTable []int32, newNames []string) int {
	if len(oldTable) != len(newTable) {
		return max(len(oldTable), len(newTable))
	}
	n := 0
	for i := range oldTable {
		if oldNames[oldTable[i]] != newNames[newTable[i]] {
			n++
		}
	}
	return n
}
