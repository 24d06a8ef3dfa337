package daemon

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// watchNotices reports the kernel's notices that the cloud's side of the
// inventory may have changed until ctx ends: a real (not virtual) block
// device added, removed or changed, as a uevent over netlink (a disk
// attached, detached or resized). It blocks in poll(2) with no timeout, so
// an idle daemon is not woken by it.
//
// The mount table is not watched: every job joins the disks to the guest's
// layout afresh (sysfs and mountinfo, about a millisecond, no call), and a
// poll on /proc/self/mountinfo wakes the daemon on every mount anywhere in
// its namespace (containers on a host mount and unmount all day).
func watchNotices(ctx context.Context, notify func(notice)) error {
	stopR, stopW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer stopR.Close()
	defer stopW.Close()
	go func() {
		<-ctx.Done()
		stopW.Write([]byte{0})
	}()
	nl, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return fmt.Errorf("watch block uevents: %w", err)
	}
	defer unix.Close(nl)
	// Without the filter every uevent of the machine wakes us; with it only
	// those of real devices do (see ueventFilter). A kernel that refuses it
	// costs wakeups, not correctness.
	_ = unix.SetsockoptSockFprog(nl, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &unix.SockFprog{Len: uint16(len(ueventFilter)), Filter: &ueventFilter[0]})
	// Group 1 is the kernel's own uevents (udev's are group 2).
	if err := unix.Bind(nl, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: 1}); err != nil {
		return fmt.Errorf("watch block uevents: %w", err)
	}
	fds := []unix.PollFd{{Fd: int32(stopR.Fd()), Events: unix.POLLIN}, {Fd: int32(nl), Events: unix.POLLIN}}
	buf := make([]byte, 16<<10)
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return fmt.Errorf("poll block uevents: %w", err)
		}
		if fds[0].Revents != 0 {
			return nil
		}
		if fds[1].Revents != 0 {
			n, _, err := unix.Recvfrom(nl, buf, unix.MSG_DONTWAIT)
			if err == nil && blockUevent(buf[:n]) {
				notify(noticeBlock)
			}
		}
	}
}

// blockUevent reports whether a kernel uevent ("ACTION@DEVPATH\0KEY=VALUE\0
// ...") may concern a cloud disk: a whole block device added, removed or
// changed (attach, detach, resize), or a device-mapper or md device built
// on disks. Loop, RAM, zram and NBD devices are never ECS disks, and on a
// busy machine they come and go many times a minute.
func blockUevent(msg []byte) bool {
	var block, disk bool
	for _, field := range bytes.Split(msg, []byte{0}) {
		k, v, _ := bytes.Cut(field, []byte("="))
		switch string(k) {
		case "SUBSYSTEM":
			block = string(v) == "block"
		case "DEVTYPE":
			disk = string(v) == "disk"
		case "DEVNAME":
			for _, p := range []string{"loop", "ram", "zram", "nbd"} {
				if bytes.HasPrefix(v, []byte(p)) {
					return false
				}
			}
		}
	}
	return block && disk
}

// ueventFilter is a classic BPF program run by the kernel on every uevent
// before it reaches the socket: it drops all but add, remove and change
// events, and those of virtual devices (DEVPATH under /devices/virtual:
// loop, RAM, device-mapper, md, network interfaces), which come and go
// many times a minute on a busy machine and are never an ECS disk. A
// cloud disk attached, detached or resized is a virtio or NVMe device,
// not virtual. (Device-mapper and md changes that matter show as mount
// changes, and every job joins the disks to the guest's layout afresh.)
// Each wakeup is dear: it keeps the Go runtime's monitor thread awake for
// a dozen more.
var ueventFilter = []unix.SockFilter{
	/* 0 */ {Code: unix.BPF_LD | unix.BPF_B | unix.BPF_ABS, K: 0}, // first byte of "ACTION@DEVPATH"
	/* 1 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 'a', Jt: 0, Jf: 2},
	/* 2 */ {Code: unix.BPF_LDX | unix.BPF_IMM, K: len32("add@")},
	/* 3 */ {Code: unix.BPF_JMP | unix.BPF_JA, K: 4},
	/* 4 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 'r', Jt: 2, Jf: 0},
	/* 5 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: 'c', Jt: 1, Jf: 0},
	/* 6 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0},
	/* 7 */ {Code: unix.BPF_LDX | unix.BPF_IMM, K: len32("remove@")}, // = len("change@")
	/* 8 */ {Code: unix.BPF_LD | unix.BPF_W | unix.BPF_IND, K: 0},
	/* 9 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: word("/dev"), Jt: 0, Jf: 6},
	/* 10 */ {Code: unix.BPF_LD | unix.BPF_W | unix.BPF_IND, K: 4},
	/* 11 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: word("ices"), Jt: 0, Jf: 4},
	/* 12 */ {Code: unix.BPF_LD | unix.BPF_W | unix.BPF_IND, K: 8},
	/* 13 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: word("/vir"), Jt: 0, Jf: 2},
	/* 14 */ {Code: unix.BPF_LD | unix.BPF_W | unix.BPF_IND, K: 12},
	/* 15 */ {Code: unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K, K: word("tual"), Jt: 1, Jf: 0},
	/* 16 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0xffffffff},
	/* 17 */ {Code: unix.BPF_RET | unix.BPF_K, K: 0},
}

func len32(s string) uint32 { return uint32(len(s)) }

// word is four bytes as BPF loads them (network byte order).
func word(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
