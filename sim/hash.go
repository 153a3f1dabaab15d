package sim

import (
	"fmt"
	"math"
)

// Noise is derived from hashes, never from a random stream: a value is a pure
// function of (seed, what, when).

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// hs continues hash h with the string s.
func hs(h uint64, s string) uint64 {
	const prime = 1099511628211
	h ^= 0xcbf29ce484222325
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= prime
	}
	return mix64(h)
}

// hi continues hash h with the integer v.
func hi(h uint64, v int64) uint64 { return mix64(h ^ mix64(uint64(v)+0x2545f4914f6cdd1d)) }

// key is the hash of the seed and parts.
func (m *Sim) key(parts ...string) uint64 {
	h := m.seed
	for _, p := range parts {
		h = hs(h, p)
	}
	return h
}

// unit maps h to a uniform number in (0, 1).
func unit(h uint64) float64 { return (float64(h>>11) + 0.5) / (1 << 53) }

// gauss maps h to a standard normal number (Box-Muller).
func gauss(h uint64) float64 {
	u1, u2 := unit(h), unit(mix64(h^0x6a09e667f3bcc909))
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*u2)
}

// poisson draws a Poisson count of mean lambda from h: exact inverse CDF for
// small means, the normal approximation above.
func poisson(lambda float64, h uint64) int {
	if !(lambda > 0) {
		return 0
	}
	if lambda >= 30 {
		v := math.Round(lambda + math.Sqrt(lambda)*gauss(h))
		if v < 0 {
			return 0
		}
		return int(v)
	}
	u := unit(h)
	p := math.Exp(-lambda)
	f := p
	k := 0
	for u > f && k < 200 {
		k++
		p *= lambda / float64(k)
		f += p
	}
	return k
}

// draw is how many of n requests fail with share p, seeded by h.
func draw(n int, p float64, h uint64) int {
	switch {
	case n <= 0 || p <= 0:
		return 0
	case p >= 1:
		return n
	case p > 0.5:
		return n - min(n, poisson(float64(n)*(1-p), h))
	}
	return min(n, poisson(float64(n)*p, h))
}

// hex returns n hex digits of h (n <= 16).
func hex(h uint64, n int) string { return fmt.Sprintf("%016x", h)[:n] }

// uuid formats two hashes as a version 4 UUID.
func uuid(a, b uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", a>>32, (a>>16)&0xffff, a&0xfff, 0x8000|(b>>48)&0x3fff, b&0xffffffffffff)
}
