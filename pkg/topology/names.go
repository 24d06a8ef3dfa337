package topology

import "strings"

// compareNames orders device names the way the kernel hands them out:
// runs of digits compare as numbers (vdb2 < vdb10, nvme2n1 < nvme10n1),
// and runs of letters that start alike compare by length first, so
// vdz < vdaa as drivers count a..z, aa..zz. The key of a letter run is
// (first byte, length, bytes), so the order stays total.
func compareNames(a, b string) int {
	for a != "" && b != "" {
		ra, rb := leadingRun(a), leadingRun(b)
		da, db := isDigit(a[0]), isDigit(b[0])
		switch {
		case da != db:
			// A digit run sorts before a letter run: vd1 < vda.
			if da {
				return -1
			}
			return 1
		case da:
			ta, tb := strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if c := cmpLenThenBytes(ta, tb); c != 0 {
				return c
			}
			if c := cmpInt(len(ra), len(rb)); c != 0 {
				return c
			}
		default:
			if ra[0] != rb[0] {
				return cmpInt(int(ra[0]), int(rb[0]))
			}
			if c := cmpLenThenBytes(ra, rb); c != 0 {
				return c
			}
		}
		a, b = a[len(ra):], b[len(rb):]
	}
	return cmpInt(len(a), len(b))
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// leadingRun returns the leading run of s made only of digits or only of others.
func leadingRun(s string) string {
	d := isDigit(s[0])
	i := 1
	for i < len(s) && isDigit(s[i]) == d {
		i++
	}
	return s[:i]
}

func cmpLenThenBytes(a, b string) int {
	if c := cmpInt(len(a), len(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
