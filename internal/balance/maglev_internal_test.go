package balance

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// textbookMaglev is the algorithm as the paper states it, with weighted
// turns and nothing made faster: each name's j-th choice is
// (offset + j·skip) mod m, and a turn walks j until a free slot. Maglev's
// shortcuts (walking by addition, the bitmap, finding the tail slots by
// index) must give exactly this table, or flows move on upgrade.
func textbookMaglev(names []string, weights []int, m int) []int32 {
	maxW := slices.Max(weights)
	offset := make([]uint64, len(names))
	skip := make([]uint64, len(names))
	next := make([]uint64, len(names))
	for i, n := range names {
		h := HashString(n)
		offset[i], skip[i] = h%uint64(m), mix(h)%uint64(m-1)+1
	}
	table := make([]int32, m)
	for i := range table {
		table[i] = -1
	}
	credit := make([]int, len(names))
	for filled := 0; filled < m; {
		for i := range names {
			credit[i] += weights[i]
			for credit[i] >= maxW && filled < m {
				credit[i] -= maxW
				for {
					slot := (offset[i] + next[i]*skip[i]) % uint64(m)
					next[i]++
					if table[slot] < 0 {
						table[slot] = int32(i)
						filled++
						break
					}
				}
			}
		}
	}
	return table
}

func TestMaglevMatchesTextbook(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ n, m int }{
		{1, 7}, {2, 7}, {3, 13}, {5, 251}, {10, 1009}, {100, 4099}, {1000, 65537}, {7, 65537},
	} {
		for _, weighted := range []bool{false, true} {
			names := make([]string, tc.n)
			weights := make([]int, tc.n)
			for i := range names {
				names[i] = fmt.Sprintf("10.%d.%d.%d:80", i>>16, i>>8&255, i&255)
				weights[i] = 1
				if weighted {
					weights[i] = rng.IntN(5) // some names get no slots
				}
			}
			if slices.Max(weights) == 0 {
				weights[0] = 1
			}
			got, err := Maglev(names, weights, tc.m)
			if err != nil {
				t.Fatal(err)
			}
			if want := textbookMaglev(names, weights, tc.m); !slices.Equal(got, want) {
				d := 0
				for i := range got {
					if got[i] != want[i] {
						d++
					}
				}
				t.Errorf("%d names (weighted %v), m=%d: %d of %d slots differ from the textbook algorithm", tc.n, weighted, tc.m, d, tc.m)
			}
		}
	}
}
