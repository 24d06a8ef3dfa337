package loopfs

import (
	"fmt"
	"strconv"
	"strings"
)

// Mount is one line of /proc/self/mountinfo, reduced to what we check.
type Mount struct {
	Dev        string // major:minor
	MountPoint string
	FSType     string
	Source     string
	Options    string // per-mount options, e.g. "rw,relatime"
}

// parseMountInfo parses mountinfo text (see proc(5)). Malformed lines are
// an error: a safety check must not skip what it cannot read.
func parseMountInfo(data string) ([]Mount, error) {
	var out []Mount
	for n, line := range strings.Split(strings.TrimRight(data, "\n"), "\n") {
		if line == "" {
			continue
		}
		pre, post, ok := strings.Cut(line, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 2 {
			return nil, fmt.Errorf("mountinfo line %d is malformed", n+1)
		}
		out = append(out, Mount{Dev: f[2], MountPoint: unescape(f[4]), Options: f[5], FSType: g[0], Source: unescape(g[1])})
	}
	return out, nil
}

// unescape decodes the octal escapes (\040 for a space) mountinfo uses.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
