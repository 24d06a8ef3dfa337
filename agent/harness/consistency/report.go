package consistency

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// totals sums a cell's trials.
type totals struct {
	trials, mounted, broken, lossTrials, lost, torn, failed, expected int
}

func (c Cell) totals() totals {
	var t totals
	for _, tr := range c.Trials {
		if tr.Failure != "" {
			t.failed++
			continue
		}
		t.trials++
		if tr.Mounted {
			t.mounted++
		}
		if tr.broken() {
			t.broken++
		}
		if tr.Lost > 0 {
			t.lossTrials++
		}
		t.lost += tr.Lost
		t.expected += tr.Expected
		t.torn += tr.Torn
	}
	return t
}

func (r *Report) render(w io.Writer) {
	fmt.Fprintf(w, "\nConsistency of restored snapshots (kernel %s, %d trials per row, %d writers of %d KiB fsync'd records)\n\n",
		r.Kernel, r.Options.Trials, r.Options.Writers, r.Options.RecordSize>>10)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tmethod\ttrials\tclones mount\tclones with errors\tacked records lost / checked\ttorn records\tmethod failed")
	skipped := map[string]string{}
	var order []string
	for _, c := range r.Cells {
		if c.Skipped != "" {
			if _, ok := skipped[c.Workload]; !ok {
				order = append(order, c.Workload)
			}
			skipped[c.Workload] = c.Skipped
			continue
		}
		t := c.totals()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d / %d\t%d\t%d\n", c.Workload, c.label(), t.trials, t.mounted, t.broken, t.lost, t.expected, t.torn, t.failed)
	}
	tw.Flush()
	for _, wl := range order {
		fmt.Fprintf(w, "%s: skipped: %s\n", wl, skipped[wl])
	}
}

// verdict lists what makes the run fail: an ecssnap method that failed,
// lost an acknowledged record or left a damaged clone, and a per-disk
// procedure on the two-disk btrfs that never showed damage.
func (r *Report) verdict() []string {
	var out []string
	perDiskRan, perDiskCaught := false, false
	for _, c := range r.Cells {
		if c.Skipped != "" {
			continue
		}
		t := c.totals()
		if c.Method == MethodPerDisk {
			if c.Workload == "btrfs-raid0" {
				perDiskRan = true
				perDiskCaught = perDiskCaught || t.broken > 0 || t.lost > 0
			}
			continue
		}
		var bad []string
		if t.failed > 0 {
			bad = append(bad, fmt.Sprintf("%d trials failed to snapshot", t.failed))
		}
		if t.broken > 0 {
			bad = append(bad, fmt.Sprintf("%d damaged clones", t.broken))
		}
		if t.lost > 0 {
			bad = append(bad, fmt.Sprintf("%d acknowledged records lost", t.lost))
		}
		if len(bad) > 0 {
			out = append(out, fmt.Sprintf("%s / %s: %s", c.Workload, c.Method, strings.Join(bad, ", ")))
		}
	}
	if perDiskRan && !perDiskCaught {
		out = append(out, "the per-disk procedure never damaged the two-disk btrfs: the experiment did not show what it must be able to detect (raise -gap or -trials)")
	}
	return out
}

// label is the method as the table shows it.
func (c Cell) label() string {
	if c.Method == MethodPerDisk {
		return fmt.Sprintf("%s, +%dms gap", c.Method, c.GapMS)
	}
	return c.Method
}
