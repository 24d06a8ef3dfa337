package ecsemu

import (
	"fmt"
	"net/http"
)

// DetachDisk detaches a data disk from its instance, as someone in the
// console would: it becomes Available, is no longer listed among the
// instance's disks, and snapshot calls that name it with the instance fail
// as the API fails them. The way to change the world under an agent's
// kept view.
func (e *Emulator) DetachDisk(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	d, ok := e.diskByID[id]
	if !ok {
		return fmt.Errorf("disk %q does not exist", id)
	}
	if d.spec.Type == "system" {
		return fmt.Errorf("disk %q is a system disk, which cannot be detached", id)
	}
	d.spec.Detached = true
	d.status = "Available"
	return nil
}

// adminDetach serves POST /v1/disks/{id}/detach.
func (e *Emulator) adminDetach(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/disks/{id}/detach", e.mutation(func(r *http.Request) (any, error) {
		if err := e.DetachDisk(r.PathValue("id")); err != nil {
			return nil, badRequest(err)
		}
		return map[string]string{"id": r.PathValue("id"), "status": "Available"}, nil
	}))
}
