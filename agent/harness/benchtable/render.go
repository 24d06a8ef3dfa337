package benchtable

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Report is what bench/results.json holds.
type Report struct {
	Generated    time.Time         `json:"generated"`
	Version      string            `json:"version,omitempty"`
	Go           string            `json:"go"`
	Platform     string            `json:"platform"`
	CPU          string            `json:"cpu,omitempty"`
	CPUs         int               `json:"cpus"`
	Root         bool              `json:"root"`
	APILatencyMS int               `json:"api_latency_ms"`
	Binary       string            `json:"binary,omitempty"`
	Rows         []Row             `json:"rows"`
	Runs         []Run             `json:"runs"`
	Benchmarks   []*Bench          `json:"benchmarks"`
	Failed       map[string]string `json:"failed_packages,omitempty"`
}

// NewReport assembles the report of a run; the benchmarks are listed by name.
func NewReport(res *Results, rows []Row, runs []Run) *Report {
	rep := &Report{Generated: time.Now().UTC(), CPU: res.CPU, APILatencyMS: LatencyMS,
		Rows: rows, Runs: runs, Failed: res.FailedPackages}
	for _, b := range res.Benches {
		rep.Benchmarks = append(rep.Benchmarks, b)
	}
	sort.Slice(rep.Benchmarks, func(i, j int) bool { return rep.Benchmarks[i].Name < rep.Benchmarks[j].Name })
	return rep
}

// WriteJSON writes the report to path, creating its directory.
func (rep *Report) WriteJSON(path string) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	return os.Rename(tmp, path)
}

// WriteTable prints the rows as one table, under a heading line per group.
func WriteTable(w io.Writer, rep *Report) error {
	fmt.Fprintf(w, "ecssnap benchmarks: %s, %d CPUs, %s; emulator API latency L = %d ms\n",
		rep.CPU, rep.CPUs, rep.Platform, rep.APILatencyMS)
	fmt.Fprintf(w, "processes run as: %s\n\n", orDefault(rep.Binary, "the test binaries (no -binary given)"))
	cells := [][]string{{"FIGURE", "VALUE", "TARGET", "RESULT", "RATIO", "NOTE"}}
	for _, r := range rep.Rows {
		value := "-"
		if r.Value != nil {
			value = formatNumber(*r.Value) + " " + r.Unit
		}
		ratio := ""
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.1fx", *r.Ratio)
		}
		note := r.Note
		if r.Detail != "" {
			note = r.Detail
		}
		cells = append(cells, []string{"  " + r.Name, value, orDefault(r.Target, "-"), r.Verdict, ratio, note})
	}
	// Columns are as wide as their widest cell; group headings span them.
	width := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	group := ""
	for i, line := range cells {
		if i > 0 && rep.Rows[i-1].Group != group {
			group = rep.Rows[i-1].Group
			fmt.Fprintln(w, group)
		}
		var b strings.Builder
		for j, c := range line {
			b.WriteString(c)
			if j < len(line)-1 {
				b.WriteString(strings.Repeat(" ", width[j]-utf8.RuneCountInString(c)+2))
			}
		}
		if _, err := fmt.Fprintln(w, strings.TrimRight(b.String(), " ")); err != nil {
			return err
		}
	}
	fmt.Fprintln(w, "\nRATIO: sequential baseline / ecssnap for the freeze window (same N, same filesystems and")
	fmt.Fprintln(w, "emulator, same run); wait calls / N=1's for API calls.")
	return nil
}

// formatNumber prints whole numbers without decimals and others with one
// (two below 10).
func formatNumber(v float64) string {
	switch {
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) < 10:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
