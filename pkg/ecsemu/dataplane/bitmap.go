package dataplane

import "math/bits"

// bitmap is one bit per chunk.
type bitmap []uint64

func newBitmap(n int64) bitmap { return make(bitmap, (n+63)/64) }

func (b bitmap) get(i int64) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
func (b bitmap) set(i int64)      { b[i/64] |= 1 << (uint(i) % 64) }

// count returns how many bits are set.
func (b bitmap) count() int64 {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return int64(n)
}
