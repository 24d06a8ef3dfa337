package ecsemu

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu/dataplane"
)

// The data plane's admin endpoints: disks that hold bytes, outside the
// ECS API (the restore calls will make them through CreateDisk).
//
//	GET    /v1/dataplane/disks               [{"id","device","paused"}]
//	POST   /v1/dataplane/disks               {"id","snapshot_id"}: a disk holding the
//	                                         snapshot's bytes, attached: {"id","device"}
//	POST   /v1/dataplane/disks/{id}/attach   {"id","device"}
//	POST   /v1/dataplane/disks/{id}/detach
//	DELETE /v1/dataplane/disks/{id}          detach and delete
//	POST   /v1/dataplane/disks/{id}/pause    close the write gate (idempotent)
//	POST   /v1/dataplane/disks/{id}/resume   reopen it (idempotent)
//
// Without a data plane they answer 400. They do not take the emulator's
// lock: a copy of a large snapshot takes time.

// dataPlaneDisk is a disk in the data plane's admin answers.
type dataPlaneDisk struct {
	ID     string `json:"id"`
	Device string `json:"device,omitempty"`
	Paused bool   `json:"paused,omitempty"`
}

// newDiskTimeout bounds the wait for a snapshot's copy behind a new disk.
const newDiskTimeout = 10 * time.Minute

func (e *Emulator) dataPlaneAdmin(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/dataplane/disks", e.mutation(func(*http.Request) (any, error) {
		dp, err := e.needDataPlane()
		if err != nil {
			return nil, err
		}
		out := []dataPlaneDisk{}
		for _, id := range dp.Disks() {
			paused, _ := dp.Paused(id)
			out = append(out, dataPlaneDisk{ID: id, Device: dp.Device(id), Paused: paused})
		}
		return out, nil
	}))
	mux.HandleFunc("POST /v1/dataplane/disks", e.mutation(func(r *http.Request) (any, error) {
		dp, err := e.needDataPlane()
		if err != nil {
			return nil, err
		}
		var req struct {
			ID         string `json:"id"`
			SnapshotID string `json:"snapshot_id"`
		}
		if err := readAdmin(r, &req); err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(r.Context(), newDiskTimeout)
		defer cancel()
		if err := dp.CreateDisk(ctx, req.ID, req.SnapshotID); err != nil {
			return nil, dataPlaneErr(err)
		}
		dev, err := dp.Attach(req.ID)
		if err != nil {
			return nil, dataPlaneErr(err)
		}
		return dataPlaneDisk{ID: req.ID, Device: dev}, nil
	}))
	mux.HandleFunc("POST /v1/dataplane/disks/{id}/attach", e.mutation(func(r *http.Request) (any, error) {
		dp, err := e.needDataPlane()
		if err != nil {
			return nil, err
		}
		dev, err := dp.Attach(r.PathValue("id"))
		if err != nil {
			return nil, dataPlaneErr(err)
		}
		return dataPlaneDisk{ID: r.PathValue("id"), Device: dev}, nil
	}))
	diskOp := func(op func(dp *dataplane.Plane, id string) error) http.HandlerFunc {
		return e.mutation(func(r *http.Request) (any, error) {
			dp, err := e.needDataPlane()
			if err != nil {
				return nil, err
			}
			if err := op(dp, r.PathValue("id")); err != nil {
				return nil, dataPlaneErr(err)
			}
			return map[string]bool{"ok": true}, nil
		})
	}
	mux.HandleFunc("POST /v1/dataplane/disks/{id}/detach", diskOp((*dataplane.Plane).Detach))
	mux.HandleFunc("POST /v1/dataplane/disks/{id}/pause", diskOp((*dataplane.Plane).Pause))
	mux.HandleFunc("POST /v1/dataplane/disks/{id}/resume", diskOp((*dataplane.Plane).Resume))
	mux.HandleFunc("DELETE /v1/dataplane/disks/{id}", diskOp(func(dp *dataplane.Plane, id string) error {
		if err := dp.Detach(id); err != nil {
			return err
		}
		return dp.DeleteDisk(id)
	}))
}

func (e *Emulator) needDataPlane() (*dataplane.Plane, error) {
	if e.dp == nil {
		return nil, badRequest(errors.New("this emulator has no data plane (start it with --data-dir)"))
	}
	return e.dp, nil
}

// dataPlaneErr maps the data plane's errors to statuses.
func dataPlaneErr(err error) error {
	switch {
	case errors.Is(err, dataplane.ErrNoDisk), errors.Is(err, dataplane.ErrNoSnapshot):
		return &adminError{status: http.StatusNotFound, err: err}
	case errors.Is(err, dataplane.ErrExists), errors.Is(err, dataplane.ErrAttached):
		return &adminError{status: http.StatusConflict, err: err}
	case errors.Is(err, dataplane.ErrNotServed):
		return badRequest(err)
	}
	return err
}
