package loopfs

import "testing"

func TestWithin(t *testing.T) {
	for _, tc := range []struct {
		p, dir string
		want   bool
	}{
		{"/tmp/x/a", "/tmp/x", true},
		{"/tmp/x/a/b", "/tmp/x", true},
		{"/tmp/x", "/tmp/x", false},
		{"/tmp/xy", "/tmp/x", false},
		{"/", "/tmp/x", false},
		{"/tmp/x/../y", "/tmp/x", false},
	} {
		if got := within(tc.p, tc.dir); got != tc.want {
			t.Errorf("within(%q, %q) = %v", tc.p, tc.dir, got)
		}
	}
}
