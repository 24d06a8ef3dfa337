package localapi

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

const statusSample = `Name:	apt-get
Umask:	0022
State:	S (sleeping)
Tgid:	4242
Pid:	4242
PPid:	4200
Uid:	1000	1001	1002	1003
Gid:	1000	1000	1000	1000
FDSize:	64
Groups:	4 24 27 1000 
NStgid:	4242
`

func TestParseProcStatus(t *testing.T) {
	many := make([]string, 70000)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	tests := []struct {
		name   string
		in     string
		euid   int
		groups []int
		err    bool
	}{
		{name: "sample", in: statusSample, euid: 1001, groups: []int{4, 24, 27, 1000}},
		{name: "no supplementary groups", in: "Uid:\t0\t0\t0\t0\nGroups:\t\n", euid: 0},
		{name: "long group list", in: "Uid:\t5\t5\t5\t5\nGroups:\t" + strings.Join(many, " ") + "\n", euid: 5, groups: nil},
		{name: "no Groups line", in: "Uid:\t0\t0\t0\t0\n", err: true},
		{name: "no Uid line", in: "Groups:\t1 2\n", err: true},
		{name: "short Uid line", in: "Uid:\t0 0\nGroups:\t\n", err: true},
		{name: "bad gid", in: "Uid:\t0\t0\t0\t0\nGroups:\t1 x\n", err: true},
		{name: "negative gid", in: "Uid:\t0\t0\t0\t0\nGroups:\t-1\n", err: true},
		{name: "empty", in: "", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := parseProcStatus([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if err != nil {
				return
			}
			if tt.name == "long group list" {
				if len(st.Groups) != len(many) {
					t.Fatalf("got %d groups, want %d", len(st.Groups), len(many))
				}
				return
			}
			if st.EUID != tt.euid || !slices.Equal(st.Groups, tt.groups) {
				t.Fatalf("got euid %d groups %v, want %d %v", st.EUID, st.Groups, tt.euid, tt.groups)
			}
		})
	}
}

func TestParseCmdline(t *testing.T) {
	for in, want := range map[string]string{
		"apt-get\x00install\x00-y\x00vim\x00": "apt-get install -y vim",
		"/usr/bin/ecssnap\x00":                "/usr/bin/ecssnap",
		"setproctitle style":                  "setproctitle style",
	} {
		if got := parseCmdline([]byte(in)); got != want {
			t.Errorf("parseCmdline(%q) = %q, want %q", in, got, want)
		}
	}
}
