//go:build !linux

package hook

// procfsExpected: outside Linux a missing /proc says nothing.
const procfsExpected = false
