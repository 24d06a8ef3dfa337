package soak

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is what a soak found.
type Report struct {
	Duration time.Duration
	Seed     uint64
	Drained  bool // the final daemon finished every accepted job in time
	Accepted int  // distinct job IDs ecssnap gave out

	Requests map[string]int // accepted requests by source
	Refused  map[string]int // requests that got no job ID, by reason
	Jobs     jobCheck

	APICalls, Snapshots, Groups int
	Faults                      map[string]int // API faults injected, by kind
	FaultPhases, IMDSFlaps      int
	IMDSOutage                  time.Duration
	DaemonStarts, DaemonKills   int
	HelpersSeen, HelperKills    int
	// Kills that came while a filesystem was frozen.
	DaemonKillsFrozen, HelperKillsFrozen int

	FreezesSeen   int // probe writes blocked by a freeze
	LongestFreeze time.Duration
	FreezeLimit   time.Duration

	// The must-be-zero findings, one line each.
	Duplicates   []string
	Phantoms     []string // groups and snapshots jobs report that the cloud lacks
	PastDeadline []string
	StillFrozen  []string
	LostDetail   []string
	WriterErrors []string

	RecordsWritten int
	BytesWritten   int64
	RecordsLost    int
	BytesLost      int64

	Notes    []string
	Failures []string // every must-be-zero that is not, and why
}

// finish collects the failures.
func (r *Report) finish() {
	add := func(what string, lines []string) {
		for _, l := range lines {
			r.Failures = append(r.Failures, what+": "+l)
		}
	}
	add("duplicate", r.Duplicates)
	add("reported but not in the cloud", r.Phantoms)
	add("frozen past deadline", r.PastDeadline)
	add("not thawed at the end", r.StillFrozen)
	add("job record lost", r.Jobs.Lost)
	add("data lost", r.LostDetail)
	add("writer error", r.WriterErrors)
	if !r.Drained {
		r.Failures = append(r.Failures, fmt.Sprintf("drain: the final daemon did not finish every job within %s", drainWait))
	}
}

// OK reports whether every must-be-zero is zero.
func (r *Report) OK() bool { return len(r.Failures) == 0 }

// Print writes the report as a table, then each failure on its own line.
func (r *Report) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, args ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, args...)) }
	fmt.Fprintf(tw, "ecssnap soak: %s, seed %d\n", r.Duration.Round(time.Second), r.Seed)
	row("jobs run", "%d (%d runs counting restarts, %d resumed after a kill)", r.Accepted, r.Jobs.Attempts, r.Jobs.Resumed)
	for _, k := range sortedKeys(r.Jobs.Outcomes) {
		row("  "+k, "%d", r.Jobs.Outcomes[k])
	}
	row("consistency reached", "%s", counts(r.Jobs.Levels))
	row("requests accepted", "%s", counts(r.Requests))
	row("requests refused", "%s", counts(r.Refused))
	row("API calls", "%d; snapshots %d, groups %d", r.APICalls, r.Snapshots, r.Groups)
	row("faults injected", "%s; %d fault phases", counts(r.Faults), r.FaultPhases)
	row("metadata flaps", "%d (down %s in all)", r.IMDSFlaps, r.IMDSOutage.Round(100*time.Millisecond))
	row("daemon kills", "%d (%d while frozen; %d starts)", r.DaemonKills, r.DaemonKillsFrozen, r.DaemonStarts)
	row("helper kills", "%d of %d helpers seen (%d while frozen)", r.HelperKills, r.HelpersSeen, r.HelperKillsFrozen)
	row("freezes seen by the probes", "%d, longest %s (limit %s); longest held_ms reported by a job %d",
		r.FreezesSeen, r.LongestFreeze.Round(time.Millisecond), r.FreezeLimit, r.Jobs.LongestHeldMS)
	row("duplicates", "%d", len(r.Duplicates))
	row("reported snapshots missing", "%d", len(r.Phantoms))
	row("frozen past deadline", "%d", len(r.PastDeadline))
	row("not thawed at the end", "%d", len(r.StillFrozen))
	row("job records lost", "%d", len(r.Jobs.Lost))
	row("data written", "%d records, %s", r.RecordsWritten, bytesText(r.BytesWritten))
	row("data lost", "%d records, %s", r.RecordsLost, bytesText(r.BytesLost))
	row("writer errors", "%d", len(r.WriterErrors))
	tw.Flush()
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAIL %s\n", f)
	}
	if r.OK() {
		fmt.Fprintln(w, "PASS every must-be-zero is zero")
	}
}

// counts renders a tally as "a 3, b 1", or "none".
func counts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
