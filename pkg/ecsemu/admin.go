package ecsemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxAdminBody caps admin request bodies.
const maxAdminBody = 64 << 10

// AdminHandler serves the emulator's control API (JSON over HTTP, meant for
// loopback): received calls, state, faults, the virtual clock and state
// hooks. Errors are {"error": "..."} with a 4xx status.
//
//	GET    /v1/calls                  every API call received, in order
//	DELETE /v1/calls                  forget them
//	GET    /v1/state                  StateDump
//	GET    /v1/scenario               the effective scenario
//	GET    /v1/faults                 faults in force
//	PUT    /v1/faults                 replace them (Faults JSON, durations as "250ms")
//	GET    /v1/clock                  {"now": ..., "virtual": bool}
//	POST   /v1/clock/advance          {"duration": "10m"} (virtual clock only)
//	POST   /v1/clock/set              {"time": "2025-01-02T03:04:05Z"} (virtual clock only)
//	PUT    /v1/instance/status        {"status": "Stopped"}
//	PUT    /v1/disks/{id}/status      {"status": "Available"}
//	POST   /v1/snapshots/{id}/fail    mark a snapshot failed
//	POST   /v1/credentials/expire     expire every STS credential now
//	POST   /v1/credentials/rotate     serve a fresh STS credential now
//	POST   /v1/metadata/tokens/expire invalidate every metadata token
//	GET    /healthz                   "ok"
//
// With a data plane, also /v1/dataplane/... (see admin_dataplane.go).
func (e *Emulator) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /v1/calls", func(w http.ResponseWriter, _ *http.Request) { writeAdmin(w, e.Calls()) })
	mux.HandleFunc("DELETE /v1/calls", e.mutation(func(*http.Request) (any, error) {
		e.ResetCalls()
		return map[string]bool{"ok": true}, nil
	}))
	mux.HandleFunc("GET /v1/state", func(w http.ResponseWriter, _ *http.Request) { writeAdmin(w, e.State()) })
	mux.HandleFunc("GET /v1/scenario", func(w http.ResponseWriter, _ *http.Request) { writeAdmin(w, e.Scenario()) })
	mux.HandleFunc("GET /v1/faults", func(w http.ResponseWriter, _ *http.Request) { writeAdmin(w, e.Faults()) })
	mux.HandleFunc("PUT /v1/faults", e.mutation(func(r *http.Request) (any, error) {
		var f Faults
		if err := readAdmin(r, &f); err != nil {
			return nil, err
		}
		if err := e.SetFaults(f); err != nil {
			return nil, badRequest(err)
		}
		return e.Faults(), nil
	}))
	mux.HandleFunc("GET /v1/clock", func(w http.ResponseWriter, _ *http.Request) { writeAdmin(w, e.clockInfo()) })
	mux.HandleFunc("POST /v1/clock/advance", e.mutation(func(r *http.Request) (any, error) {
		var req struct {
			Duration Duration `json:"duration"`
		}
		if err := readAdmin(r, &req); err != nil {
			return nil, err
		}
		vc, err := e.virtualClock()
		if err != nil {
			return nil, err
		}
		vc.Advance(req.Duration.D())
		return e.clockInfo(), nil
	}))
	mux.HandleFunc("POST /v1/clock/set", e.mutation(func(r *http.Request) (any, error) {
		var req struct {
			Time time.Time `json:"time"`
		}
		if err := readAdmin(r, &req); err != nil {
			return nil, err
		}
		vc, err := e.virtualClock()
		if err != nil {
			return nil, err
		}
		vc.Set(req.Time)
		return e.clockInfo(), nil
	}))
	mux.HandleFunc("PUT /v1/instance/status", e.mutation(func(r *http.Request) (any, error) {
		var req struct {
			Status string `json:"status"`
		}
		if err := readAdmin(r, &req); err != nil {
			return nil, err
		}
		if err := e.SetInstanceStatus(req.Status); err != nil {
			return nil, badRequest(err)
		}
		return e.State().Instance, nil
	}))
	mux.HandleFunc("PUT /v1/disks/{id}/status", e.mutation(func(r *http.Request) (any, error) {
		var req struct {
			Status string `json:"status"`
		}
		if err := readAdmin(r, &req); err != nil {
			return nil, err
		}
		if err := e.SetDiskStatus(r.PathValue("id"), req.Status); err != nil {
			return nil, badRequest(err)
		}
		return map[string]string{"id": r.PathValue("id"), "status": req.Status}, nil
	}))
	e.adminDetach(mux)
	mux.HandleFunc("POST /v1/snapshots/{id}/fail", e.mutation(func(r *http.Request) (any, error) {
		if err := e.FailSnapshot(r.PathValue("id")); err != nil {
			return nil, badRequest(err)
		}
		return map[string]string{"id": r.PathValue("id"), "status": snapFailed}, nil
	}))
	mux.HandleFunc("POST /v1/credentials/expire", e.mutation(func(*http.Request) (any, error) {
		e.ExpireCredentials()
		return map[string]bool{"ok": true}, nil
	}))
	mux.HandleFunc("POST /v1/credentials/rotate", e.mutation(func(*http.Request) (any, error) {
		e.RotateCredentials()
		c, _ := e.CurrentCredentials()
		return map[string]string{"access_key_id": c.AccessKeyID, "expiration": c.Expiration.Format(stsTimeFormat)}, nil
	}))
	mux.HandleFunc("POST /v1/metadata/tokens/expire", e.mutation(func(*http.Request) (any, error) {
		e.ExpireMetadataTokens()
		return map[string]bool{"ok": true}, nil
	}))
	e.dataPlaneAdmin(mux)
	return mux
}

// adminError carries an HTTP status for the admin API.
type adminError struct {
	status int
	err    error
}

func (a *adminError) Error() string { return a.err.Error() }
func (a *adminError) Unwrap() error { return a.err }

func badRequest(err error) error { return &adminError{status: http.StatusBadRequest, err: err} }

// mutation wraps a state-changing admin handler: it logs the change and
// writes the result or the error envelope.
func (e *Emulator) mutation(fn func(*http.Request) (any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		res, err := fn(r)
		if err != nil {
			status := http.StatusInternalServerError
			var ae *adminError
			if errors.As(err, &ae) {
				status = ae.status
			}
			e.log.Warn("admin request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
			return
		}
		e.log.Info("admin change", "method", r.Method, "path", r.URL.Path)
		writeAdmin(w, res)
	}
}

func writeAdmin(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// readAdmin decodes a capped JSON body, refusing unknown fields.
func readAdmin(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest(fmt.Errorf("decode request body: %w", err))
	}
	return nil
}

func (e *Emulator) virtualClock() (*VirtualClock, error) {
	vc, ok := e.clock.(*VirtualClock)
	if !ok {
		return nil, &adminError{status: http.StatusConflict, err: errors.New("the emulator runs on the real clock (start it with a virtual clock)")}
	}
	return vc, nil
}

func (e *Emulator) clockInfo() map[string]any {
	_, virtual := e.clock.(*VirtualClock)
	return map[string]any{"now": e.clock.Now().Format(time.RFC3339Nano), "virtual": virtual}
}
