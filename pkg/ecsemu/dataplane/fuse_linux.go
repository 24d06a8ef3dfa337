package dataplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// fuseMaxWrite is the largest write the kernel sends in one request; the
// loop device writes in pieces of up to this size.
const fuseMaxWrite = 1 << 20

// server serves the disk images as regular files <mount>/<disk-id>.
type server struct {
	mnt  string
	srv  *fuse.Server
	root *fs.Inode
}

type rootNode struct{ fs.Inode }

// fileNode is one disk as a file. Its handlers talk to the disk directly,
// never to the Plane, so a request cannot wait on a Plane lock.
type fileNode struct {
	fs.Inode
	d *disk
}

var (
	_ fs.NodeOpener    = (*fileNode)(nil)
	_ fs.NodeReader    = (*fileNode)(nil)
	_ fs.NodeWriter    = (*fileNode)(nil)
	_ fs.NodeFsyncer   = (*fileNode)(nil)
	_ fs.NodeGetattrer = (*fileNode)(nil)
	_ fs.NodeSetattrer = (*fileNode)(nil)
	_ fs.NodeAllocater = (*fileNode)(nil)
)

// Open keeps no page cache across opens (no FOPEN_KEEP_CACHE): a disk
// reset while detached is read afresh when it is attached again.
func (n *fileNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	return nil, 0, 0
}

func (n *fileNode) Read(ctx context.Context, f fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	k, err := n.d.readAt(dest, off)
	if err != nil && k == 0 && !errors.Is(err, io.EOF) {
		return nil, errnoOf(err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (n *fileNode) Write(ctx context.Context, f fs.FileHandle, data []byte, off int64) (uint32, syscall.Errno) {
	k, err := n.d.writeAt(data, off)
	if err != nil {
		return uint32(k), errnoOf(err)
	}
	return uint32(k), 0
}

// Fsync has nothing to do: a snapshot reads what this process holds, and
// the image's durability against a host crash is not the guest's concern.
func (n *fileNode) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	return 0
}

func (n *fileNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.attr(&out.Attr)
	return 0
}

// Setattr accepts what leaves the size alone: a disk does not change size
// under its guest.
func (n *fileNode) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if sz, ok := in.GetSize(); ok && int64(sz) != n.d.size {
		return syscall.EPERM
	}
	n.attr(&out.Attr)
	return 0
}

func (n *fileNode) attr(a *fuse.Attr) {
	a.Mode = syscall.S_IFREG | 0o600
	a.Size = uint64(n.d.size)
	a.Blocks = (a.Size + 511) / 512
	a.Blksize = 4096
	a.Nlink = 1
}

// Allocate turns the loop device's discards and write-zeroes (punch hole,
// zero range) into hole punches; a plain preallocation changes nothing.
func (n *fileNode) Allocate(ctx context.Context, f fs.FileHandle, off, size uint64, mode uint32) syscall.Errno {
	if mode&(unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_ZERO_RANGE) == 0 {
		return 0
	}
	if err := n.d.punch(int64(off), int64(size)); err != nil {
		return errnoOf(err)
	}
	return 0
}

// errnoOf is the errno for err: its own, or EIO (a request that races a
// disk's deletion finds its image closed).
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return syscall.EIO
}

// Serve mounts the FUSE filesystem that serves the images, under the data
// directory. A mount left by a killed earlier run is removed first. It
// needs root (the mount is made with mount(2), without fusermount).
func (p *Plane) Serve() error {
	mnt := filepath.Join(p.dir, dirMount)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.server != nil {
		return nil
	}
	if p.closed {
		return errors.New("data plane is closed")
	}
	_ = syscall.Unmount(mnt, syscall.MNT_DETACH)
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return fmt.Errorf("data plane mount point: %w", err)
	}
	root := &rootNode{}
	long := time.Hour // names and sizes only change through this process, which tells the kernel
	srv, err := fs.Mount(mnt, root, &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName: "ecsemu-dataplane", Name: "ecsemu", MaxWrite: fuseMaxWrite,
			DirectMount: true, DirectMountStrict: true, DisableXAttrs: true,
			Logger: slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
		},
		EntryTimeout: &long, AttrTimeout: &long,
	})
	if err != nil {
		return fmt.Errorf("data plane: serve %s: %w", mnt, err)
	}
	p.server = &server{mnt: mnt, srv: srv, root: &root.Inode}
	for _, d := range p.disks {
		p.serveDisk(d)
	}
	p.log.Info("data plane serving", "mount", mnt)
	return nil
}

// serveDisk shows d in the FUSE directory. Callers hold p.mu.
func (p *Plane) serveDisk(d *disk) {
	if p.server == nil {
		return
	}
	root := p.server.root
	ch := root.NewPersistentInode(context.Background(), &fileNode{d: d}, fs.StableAttr{Mode: syscall.S_IFREG})
	root.AddChild(d.id, ch, true)
}

// unserveDisk removes d from the FUSE directory. Callers hold p.mu.
func (p *Plane) unserveDisk(d *disk) {
	if p.server == nil {
		return
	}
	root := p.server.root
	if ch := root.GetChild(d.id); ch != nil {
		root.RmChild(d.id)
		_ = root.NotifyDelete(d.id, ch)
	}
}

// servedPath is where disk id is served.
func (p *Plane) servedPath(id string) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.server == nil {
		return "", ErrNotServed
	}
	return filepath.Join(p.server.mnt, id), nil
}

func (s *server) close() error {
	if err := s.srv.Unmount(); err == nil {
		return nil // and the serving loops have ended
	}
	// A guest filesystem still mounted on one of our loop devices keeps
	// the served file open, and the kernel keeps the connection while it
	// does. Detach the mount lazily, so its name goes now, and do not wait
	// for the connection: this process answers until it exits, and then
	// the guest gets EIO.
	if err := syscall.Unmount(s.mnt, syscall.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount %s: %w", s.mnt, err)
	}
	return nil
}
