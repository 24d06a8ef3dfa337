package ecsemu

import (
	"hash/fnv"
	mrand "math/rand/v2"
	"slices"
	"sort"
)

// attemptParams change on every retry of one logical request (or with the
// credential used), so they do not identify it.
var attemptParams = []string{"Signature", "SignatureNonce", "Timestamp", "AccessKeyId", "SecurityToken"}

// faultDraws returns the random source for one call's fault decisions
// (latency jitter, throttle, error, drop). It is seeded by the emulator
// seed, the request's identifying parameters and how many identical
// requests came before, so a fixed seed gives the same faults however
// concurrent callers interleave. Callers hold e.mu.
func (e *Emulator) faultDraws(p params) *mrand.Rand {
	keys := make([]string, 0, len(p))
	for k := range p {
		if !slices.Contains(attemptParams, k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := fnv.New64a()
	for _, k := range keys {
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write([]byte(p[k]))
		h.Write([]byte{0})
	}
	id := h.Sum64()
	if e.drawCounts == nil {
		e.drawCounts = map[uint64]uint64{}
	}
	n := e.drawCounts[id]
	e.drawCounts[id] = n + 1
	return mrand.New(mrand.NewPCG(uint64(e.seed)^id, n))
}
