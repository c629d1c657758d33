package balance

import (
	"errors"
	"fmt"
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
	if m < 2 || !IsPrime(m) {
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
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	// pos is where each name's permutation stands, offset + j·skip mod m,
	// advanced by adding skip (< m) and subtracting m at most once: the
	// same walk without a multiplication and a division per step.
	pos := offset
	credit := make([]int, len(names)) // weighted turns owed
	for filled := 0; filled < m; {
		for i := range names {
			credit[i] += weights[i]
			for credit[i] >= maxW && filled < m {
				credit[i] -= maxW
				// Walk the permutation to the next free slot.
				for {
					slot := pos[i]
					if pos[i] += skip[i]; pos[i] >= uint64(m) {
						pos[i] -= uint64(m)
					}
					if table[slot] < 0 {
						table[slot] = int32(i)
						filled++
						break
					}
				}
			}
		}
	}
	return table, nil
}

// IsPrime reports whether n is a prime.
func IsPrime(n int) bool {
	if n < 2 {
		return false
	}
	for d := 2; d*d <= n; d++ {
		if n%d == 0 {
			return false
		}
	}
	return true
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
