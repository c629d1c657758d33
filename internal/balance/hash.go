package balance

import "net/netip"

// The hashes here are FNV-1a (64 bit) finished with a SplitMix64 mix: stable
// across processes and versions, so that every node hashes a key alike, and
// free of allocation.

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// HashString hashes s.
func HashString(s string) uint64 {
	h := uint64(fnvOffset)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return mix(h)
}

// HashBytes hashes b; it equals HashString(string(b)).
func HashBytes(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return mix(h)
}

// HashAddr hashes an IP address (an IPv4 address and its IPv4-mapped IPv6
// form hash alike).
func HashAddr(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	return HashBytes(b[:])
}

// mix is SplitMix64's finaliser: it spreads every input bit over the output.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
