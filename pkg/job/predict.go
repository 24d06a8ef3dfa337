package job

import (
	"github.com/ecssnap/ecssnap/pkg/hooks"
	"github.com/ecssnap/ecssnap/pkg/plan"
)

// predict is, for a dry run, the level a real run of the plan would reach
// and why, short of running the hook scripts: the window lowers the
// ceiling to crash when nothing can be frozen and app to fs when no
// pre-freeze script exists, and a real run stops before any create when
// freezing is refused (not root). Without it `ecssnap plan` said nothing
// of a `snapshot-now` that would end degraded (exit 2).
func (r *run) predict(p *plan.Plan, ceiling Level, why string) (Level, string) {
	level := ceiling
	if level >= LevelFS && len(p.FreezeSet) == 0 {
		return LevelCrash, "no filesystem on the selected disks can be frozen"
	}
	if level == LevelApp && !r.hasHookScripts() {
		level, why = LevelFS, "no pre-freeze hook scripts are installed"
	}
	if level >= LevelFS && r.e.Freezing.Check != nil {
		if err := r.e.Freezing.Check(); err != nil {
			r.res.Warnings = append(r.res.Warnings, "a real run would stop before creating anything: "+err.Error())
		}
	}
	return level, why
}

// hasHookScripts reports whether the hook runner has scripts to run; a
// runner that cannot list them is taken to have some.
func (r *run) hasHookScripts() bool {
	if r.e.Hooks == nil {
		return false
	}
	lister, ok := r.e.Hooks.(interface {
		Discover() ([]hooks.Script, []hooks.Refused, error)
	})
	if !ok {
		return true
	}
	scripts, _, err := lister.Discover()
	return err != nil || len(scripts) > 0
}
