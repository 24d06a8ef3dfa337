package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ecssnap/ecssnap/pkg/job"
)

// renderer shows a job as it runs: NDJSON events (--json --wait), one JSON
// document (--json), progress bars (terminal) or timestamped lines.
type renderer struct {
	env    Env
	json   bool
	stream bool // NDJSON events before the result

	mu       sync.Mutex
	bars     []string          // disk IDs in display order
	progress map[string]string // disk ID -> rendered bar line
	drawn    int               // bar lines currently on screen
}

func newRenderer(env Env, jsonOut, wait bool) *renderer {
	return &renderer{env: env, json: jsonOut, stream: jsonOut && wait, progress: map[string]string{}}
}

// event receives job events; the engine calls it from several goroutines.
func (r *renderer) event(ev job.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.stream:
		writeJSONLine(r.env.Stdout, ev)
	case r.json:
		// A single document at the end.
	case r.env.IsTerminal:
		r.terminalEvent(ev)
	default:
		r.plainEvent(ev)
	}
}

func (r *renderer) plainEvent(ev job.Event) {
	var what string
	switch ev.Type {
	case "plan":
		// One line per reason: a log line each, never one of 600
		// characters.
		for _, reason := range planReasons(ev) {
			fmt.Fprintf(r.env.Stdout, "%s %s plan: %s\n", ev.Time.UTC().Format(time.RFC3339), ev.Job, reason)
		}
		return
	case "create":
		if ev.DiskID != "" {
			what = "creating snapshot of " + ev.DiskID
		} else {
			what = "creating " + ev.Message
		}
	case "created":
		switch {
		case ev.DiskID != "" && ev.GroupID != "":
			what = fmt.Sprintf("created %s of %s in group %s", ev.SnapshotID, ev.DiskID, ev.GroupID)
		case ev.DiskID != "":
			what = fmt.Sprintf("created %s of %s", ev.SnapshotID, ev.DiskID)
		default:
			what = "created snapshot group " + ev.GroupID
		}
	case "progress":
		what = fmt.Sprintf("%s %s %d%%", ev.DiskID, ev.SnapshotID, ev.Progress)
	case "accomplished":
		what = fmt.Sprintf("%s %s accomplished", ev.DiskID, ev.SnapshotID)
	case "failed":
		what = fmt.Sprintf("%s %s failed: %s", ev.DiskID, ev.SnapshotID, ev.Message)
	case "blocked":
		what = fmt.Sprintf("%s, %d%%", ev.Message, ev.Progress)
	case "done":
		return // the summary follows
	default:
		what = ev.Type + " " + ev.Message
	}
	fmt.Fprintf(r.env.Stdout, "%s %s %s\n", ev.Time.UTC().Format(time.RFC3339), ev.Job, what)
}

func (r *renderer) terminalEvent(ev job.Event) {
	switch ev.Type {
	case "plan":
		fmt.Fprintf(r.env.Stdout, "Job %s\n", ev.Job)
		for _, line := range planReasons(ev) {
			fmt.Fprintf(r.env.Stdout, "  %s\n", line)
		}
		return
	case "blocked":
		// Before any create: a plain line each time the snapshot in the
		// way moves.
		fmt.Fprintf(r.env.Stdout, "  %s, %d%%\n", ev.Message, ev.Progress)
		return
	case "created", "progress", "accomplished", "failed":
		if ev.DiskID == "" {
			return
		}
		if _, ok := r.progress[ev.DiskID]; !ok {
			r.bars = append(r.bars, ev.DiskID)
		}
		pct, state := ev.Progress, ev.Type
		switch ev.Type {
		case "accomplished":
			pct = 100
		case "created", "progress":
			state = "progressing"
		}
		r.progress[ev.DiskID] = fmt.Sprintf("  %-24s %-24s %s %3d%% %s", ev.DiskID, ev.SnapshotID, bar(pct, 24), pct, state)
		r.redraw()
	}
}

// planReasons are a plan event's reasons. A daemon older than the
// Reasons field sent only the joined message: split at "; " then, which
// can break a reason that contains one.
func planReasons(ev job.Event) []string {
	if len(ev.Reasons) > 0 {
		return ev.Reasons
	}
	if ev.Message == "" {
		return nil
	}
	return strings.Split(ev.Message, "; ")
}

// redraw rewrites the bar lines in place.
func (r *renderer) redraw() {
	if r.drawn > 0 {
		fmt.Fprintf(r.env.Stdout, "\033[%dA", r.drawn)
	}
	for _, d := range r.bars {
		fmt.Fprintf(r.env.Stdout, "\033[2K%s\n", r.progress[d])
	}
	r.drawn = len(r.bars)
}

func bar(pct, width int) string {
	pct = max(0, min(pct, 100))
	full := pct * width / 100
	return "[" + strings.Repeat("#", full) + strings.Repeat("-", width-full) + "]"
}

// result prints the outcome: the JSON result, or the final table.
func (r *renderer) result(res *job.Result, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.json {
		// Without a result (the daemon went away, a refusal before any
		// job) the document says what happened, never `null`.
		var doc any = res
		if res == nil && err != nil {
			doc = newErrorDocument(err)
		}
		if r.stream {
			if res == nil && err != nil {
				writeJSONLine(r.env.Stdout, struct {
					Type string `json:"type"`
					errorDocument
				}{"result", doc.(errorDocument)})
				return
			}
			writeJSONLine(r.env.Stdout, struct {
				Type string `json:"type"`
				*job.Result
			}{"result", res})
			return
		}
		enc := json.NewEncoder(r.env.Stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(doc)
		return
	}
	if res == nil || len(res.Snapshots) == 0 {
		return
	}
	if !r.env.IsTerminal {
		fmt.Fprintln(r.env.Stdout)
	}
	printSnapshotTable(r.env.Stdout, res)
	fmt.Fprintln(r.env.Stdout, summary(res))
}

func printSnapshotTable(w io.Writer, res *job.Result) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DISK\tDEVICE\tSNAPSHOT\tSTATUS\tSIZE\tELAPSED")
	for _, s := range res.Snapshots {
		status := s.State
		if s.Method == "group" && res.GroupID != "" {
			status += " (group)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d GiB\t%s\n", s.DiskID, dash(s.Device), dash(s.SnapshotID),
			status, s.SizeGiB, (time.Duration(s.ElapsedMS) * time.Millisecond).Round(100*time.Millisecond))
	}
	tw.Flush()
}

func summary(res *job.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Job %s %s", res.JobID, outcomeName(res))
	if res.GroupID != "" {
		fmt.Fprintf(&b, "; snapshot group %s", res.GroupID)
	}
	if res.Creates != nil && res.Timings.ToCreatedMS > 0 {
		fmt.Fprintf(&b, "; created in %s,", (time.Duration(res.Timings.ToCreatedMS) * time.Millisecond).Round(time.Millisecond))
	} else {
		b.WriteString("; nothing created;")
	}
	fmt.Fprintf(&b, " total %s, %s",
		(time.Duration(res.Timings.TotalMS) * time.Millisecond).Round(time.Millisecond), plural(res.APICalls, "API call", "API calls"))
	if res.Retries > 0 {
		fmt.Fprintf(&b, " (%s)", plural(res.Retries, "retry", "retries"))
	}
	fmt.Fprintf(&b, "; consistency: %s", levelName(res.Consistency))
	if f := res.Freeze; f != nil && len(f.Frozen) > 0 {
		if f.ThawedEarly {
			// held_ms is what the helper reported; without its report
			// (helper-gone) nobody knows how long the freeze held.
			fmt.Fprintf(&b, " (%s frozen; the freeze ended early: %s)", plural(len(f.Frozen), "filesystem", "filesystems"), f.ThawReason)
		} else {
			fmt.Fprintf(&b, " (%s frozen for %d ms)", plural(len(f.Frozen), "filesystem", "filesystems"), f.HeldMS)
		}
	}
	return b.String()
}

// outcomeName is the outcome, with the phase a failed job stopped in.
func outcomeName(res *job.Result) string {
	if res.FailedIn != "" {
		return res.Outcome + " in " + res.FailedIn
	}
	return res.Outcome
}

// levelName shows a job's consistency; "" means it reached none (nothing
// was created).
func levelName(l string) string {
	if l == "" {
		return "none"
	}
	return l
}

// plural is "1 API call", "2 API calls".
func plural[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func writeJSONLine(w io.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	w.Write(append(b, '\n'))
}
