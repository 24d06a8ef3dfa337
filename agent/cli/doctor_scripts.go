package cli

import (
	"fmt"
	"strings"

	"github.com/ecssnap/ecssnap/pkg/hooks"
)

// hookScripts reports the scripts in the hooks directory that would run
// and those that would be refused, with why, before a job fails on them:
// a script, a symlink or a directory on the way that someone other than
// root could change is refused (pkg/hooks, trusted).
func (d *doctor) hookScripts() {
	r := &hooks.Runner{Dir: d.a.cfg.Hooks.Dir}
	scripts, refused, err := r.Discover()
	dir := r.Dir
	switch {
	case err != nil:
		d.add("hook scripts", bad, "%v", err)
	case len(refused) > 0:
		parts := make([]string, len(refused))
		for i, x := range refused {
			parts[i] = fmt.Sprintf("%s (%s)", x.Name, x.Reason)
		}
		d.add("hook scripts", bad, "%s: refused, so every job's hook phases fail: %s", dir, strings.Join(parts, "; "))
	case len(scripts) == 0:
		d.add("hook scripts", pass, "none in %s", dir)
	default:
		names := make([]string, len(scripts))
		for i, s := range scripts {
			names[i] = s.Name
		}
		d.add("hook scripts", pass, "%s: %s", dir, strings.Join(names, ", "))
	}
}
