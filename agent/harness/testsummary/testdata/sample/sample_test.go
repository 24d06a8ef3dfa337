// Package sample is go test input for testsummary's test: one test of each
// outcome. It lives under testdata so that ./... never runs it.
package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("chatter that a passing test's output hides") }

func TestFails(t *testing.T) { t.Error("the value was 3, want 4") }

func TestSkipsWithReason(t *testing.T) { t.Skip("needs root (run as root, or CI=true fails it)") }

func TestSubtests(t *testing.T) {
	t.Run("ok", func(t *testing.T) {})
	t.Run("skipped", func(t *testing.T) { t.Skipf("mkfs.%s is not installed", "btrfs") })
}
