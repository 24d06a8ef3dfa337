package restore

import (
	"bufio"
	"bytes"
	"strings"
)

// parseBlkidExport reads `blkid -o export` output: KEY=value lines. Values
// are as blkid printed them (it escapes what a shell would need escaped);
// only TYPE and UUID are used, which never need it.
func parseBlkidExport(out []byte) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// parseLogRoot finds log_root in `btrfs inspect-internal dump-super`
// output ("log_root\t\t\t0").
func parseLogRoot(out []byte) (string, bool) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == "log_root" {
			return f[1], true
		}
	}
	return "", false
}
