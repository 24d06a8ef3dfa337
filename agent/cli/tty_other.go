//go:build !linux

package cli

import "os"

// isTerminal is false off Linux: ecssnap runs on ECS Linux instances, and
// plain output is always correct.
func isTerminal(*os.File) bool { return false }
