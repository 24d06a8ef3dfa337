package localapi

import (
	"bytes"
	"encoding/json"
	"net/http"
)

func (h *handler) plan(w http.ResponseWriter, r *http.Request) {
	var req PlanRequest
	if !h.decode(w, r, &req) {
		return
	}
	if err := req.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	raw, err := h.b.Plan(r.Context(), req)
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	h.writeRaw(w, raw)
}

func (h *handler) disks(w http.ResponseWriter, r *http.Request) {
	raw, err := h.b.Disks(r.Context())
	if err != nil {
		h.backendError(w, r, err)
		return
	}
	h.writeRaw(w, raw)
}

func (h *handler) health(w http.ResponseWriter, r *http.Request) {
	h.writeJSON(w, http.StatusOK, h.b.Health(r.Context()))
}

// serveMetrics renders the backend's metrics and the API's own into a
// buffer first, so that a failing backend yields a clean 500 rather than a
// truncated scrape that looks valid.
func (h *handler) serveMetrics(w http.ResponseWriter, r *http.Request) {
	var buf bytes.Buffer
	if err := h.b.Metrics(&buf); err != nil {
		h.backendError(w, r, err)
		return
	}
	h.metrics.write(&buf)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
}

// writeRaw sends JSON the backend produced; it is checked, because an
// invalid body with a 200 would surface as a confusing client-side error.
func (h *handler) writeRaw(w http.ResponseWriter, raw json.RawMessage) {
	if !json.Valid(raw) {
		h.log.Error("backend returned invalid JSON", "bytes", len(raw))
		writeError(w, http.StatusInternalServerError, CodeInternal, "the daemon produced invalid JSON")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}
