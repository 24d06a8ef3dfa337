package localapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// eventWriteTimeout bounds each write of an event stream, so that a client
// that stops reading (suspended, or a full pipe) cannot pin the handler
// forever; ctx cancellation alone does not interrupt a blocked write.
const eventWriteTimeout = 30 * time.Second

func (h *handler) createJob(w http.ResponseWriter, r *http.Request) {
	var req CreateJobRequest
	if !h.decode(w, r, &req) {
		return
	}
	ctx := r.Context()
	noteMutation(ctx, "trigger", req.Trigger, "reason", req.Reason, "disks", req.Disks.String(),
		"wait", req.Wait, "force", req.Force, "dry_run", req.DryRun, "session", req.Session, "claimed_cmdline", req.Cmdline)
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	caller, _ := CallerFromContext(ctx) // authorize has established it
	view, err := h.b.CreateJob(ctx, req, caller)
	if err != nil {
		noteMutation(ctx, "err", err)
		h.backendError(w, r, err)
		return
	}
	noteMutation(ctx, "job", view.ID, "joined", view.Joined)
	// 201 for a new job; 200 when the request joined one that existed.
	status := http.StatusCreated
	if view.Joined {
		status = http.StatusOK
	}
	h.writeJSON(w, status, view)
}

func (h *handler) listJobs(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("limit %q: expected a number of jobs, 0 or more", s))
			return
		}
		limit = n
	}
	jobs, err := h.b.ListJobs(r.Context(), limit)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	if jobs == nil {
		jobs = []*JobView{} // [] rather than null for clients in other languages
	}
	h.writeJSON(w, http.StatusOK, jobList{Jobs: jobs})
}

func (h *handler) getJob(w http.ResponseWriter, r *http.Request) {
	view, err := h.b.GetJob(r.Context(), r.PathValue("id"))
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	h.writeJSON(w, http.StatusOK, view)
}

// jobEvents streams NDJSON, one event per line, flushed as it comes, until
// the backend closes the channel (the job ended) or the client goes away.
func (h *handler) jobEvents(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	events, err := h.b.Events(ctx, r.PathValue("id"))
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	// Headers now, so the client knows the job exists before its first event.
	if err := rc.Flush(); err != nil {
		return
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-events:
			if !ok {
				// Lift the deadline: the connection may serve more requests.
				_ = rc.SetWriteDeadline(time.Time{})
				return
			}
			// A real deadline on a real socket: wall time, not the injected clock.
			_ = rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
			if err := enc.Encode(ev); err != nil {
				h.log.Debug("event stream ended by a failed write", "path", r.URL.Path, "err", err)
				return
			}
			if err := rc.Flush(); err != nil {
				return
			}
		}
	}
}
