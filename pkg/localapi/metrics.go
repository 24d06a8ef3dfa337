package localapi

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// apiMetrics counts requests by route and status, errors by envelope code,
// and the time to the response header by route. Time to header rather than
// to the end, so that event streams, which last as long as their job, are
// measured like every other route.
type apiMetrics struct {
	mu       sync.Mutex
	requests map[routeStatus]uint64
	errors   map[string]uint64
	latency  map[string]*latencySum
}

type routeStatus struct {
	route  string
	status int
}

type latencySum struct {
	count   uint64
	seconds float64
}

func newAPIMetrics() *apiMetrics {
	return &apiMetrics{requests: map[routeStatus]uint64{}, errors: map[string]uint64{}, latency: map[string]*latencySum{}}
}

// observe records one finished request. Routes are ServeMux patterns or
// "unmatched", so the label set stays small whatever clients send.
func (m *apiMetrics) observe(route string, rec *recorder) {
	status := rec.status
	if !rec.wrote {
		status = 200 // net/http sends 200 for a handler that wrote nothing
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[routeStatus{route, status}]++
	if rec.code != "" {
		m.errors[rec.code]++
	}
	if rec.wrote {
		l := m.latency[route]
		if l == nil {
			l = &latencySum{}
			m.latency[route] = l
		}
		l.count++
		l.seconds += rec.first.Sub(rec.start).Seconds()
	}
}

// write appends the metrics in the Prometheus text format, sorted so that
// scrapes diff cleanly.
func (m *apiMetrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP ecssnap_api_requests_total Local API requests by route and HTTP status.")
	fmt.Fprintln(w, "# TYPE ecssnap_api_requests_total counter")
	keys := slices.SortedFunc(maps.Keys(m.requests), func(a, b routeStatus) int {
		return cmp.Or(cmp.Compare(a.route, b.route), cmp.Compare(a.status, b.status))
	})
	for _, k := range keys {
		fmt.Fprintf(w, "ecssnap_api_requests_total{route=\"%s\",status=\"%d\"} %d\n", escapeLabel(k.route), k.status, m.requests[k])
	}
	fmt.Fprintln(w, "# HELP ecssnap_api_errors_total Local API error answers by error code.")
	fmt.Fprintln(w, "# TYPE ecssnap_api_errors_total counter")
	for _, code := range slices.Sorted(maps.Keys(m.errors)) {
		fmt.Fprintf(w, "ecssnap_api_errors_total{code=\"%s\"} %d\n", escapeLabel(code), m.errors[code])
	}
	fmt.Fprintln(w, "# HELP ecssnap_api_response_seconds Local API time from request to response header.")
	fmt.Fprintln(w, "# TYPE ecssnap_api_response_seconds summary")
	for _, route := range slices.Sorted(maps.Keys(m.latency)) {
		l := m.latency[route]
		fmt.Fprintf(w, "ecssnap_api_response_seconds_sum{route=\"%s\"} %s\n", escapeLabel(route), strconv.FormatFloat(l.seconds, 'g', -1, 64))
		fmt.Fprintf(w, "ecssnap_api_response_seconds_count{route=\"%s\"} %d\n", escapeLabel(route), l.count)
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
