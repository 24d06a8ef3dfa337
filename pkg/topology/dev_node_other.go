//go:build !linux

package topology

// blockDeviceNumber is Linux-only: elsewhere /dev paths are resolved by
// name alone, which is all a fixture tree offers anyway.
func blockDeviceNumber(string) (major, minor uint32, ok bool) { return 0, 0, false }
