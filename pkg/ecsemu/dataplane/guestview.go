package dataplane

import "maps"

// keptView is a guest view the Plane rebuilds itself after every attach
// and detach (see KeepGuestView).
type keptView struct {
	root    string
	serials map[string]string // disk ID -> serial
}

// KeepGuestView writes the guest view at root for disks with the given
// serials (disk ID -> serial) and keeps it current: every Attach, Detach
// and SetSerial rebuilds it. Mounting a btrfs filesystem changes what it
// shows too; call RefreshGuestView after one.
func (p *Plane) KeepGuestView(root string, serials map[string]string) error {
	p.mu.Lock()
	kept := map[string]string{}
	maps.Copy(kept, serials)
	p.view = &keptView{root: root, serials: kept}
	p.mu.Unlock()
	return p.RefreshGuestView()
}

// SetSerial gives disk id a serial in the kept guest view.
func (p *Plane) SetSerial(id, serial string) error {
	p.mu.Lock()
	if p.view == nil {
		p.mu.Unlock()
		return nil
	}
	p.view.serials[id] = serial
	p.mu.Unlock()
	return p.RefreshGuestView()
}

// RefreshGuestView rebuilds the kept guest view (nothing without one).
func (p *Plane) RefreshGuestView() error {
	p.mu.Lock()
	if p.view == nil {
		p.mu.Unlock()
		return nil
	}
	root, serials := p.view.root, maps.Clone(p.view.serials)
	p.mu.Unlock()
	_, err := p.WriteGuestView(root, serials)
	return err
}

// refreshView rebuilds the kept view after a change, logging a failure:
// the change itself stands.
func (p *Plane) refreshView() {
	if err := p.RefreshGuestView(); err != nil {
		p.log.Error("guest view", "err", err)
	}
}
