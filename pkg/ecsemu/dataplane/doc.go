// Package dataplane gives emulated cloud disks bytes: each disk is an image
// file in a data directory, served to the host through FUSE and attached as
// a loop device over the served file, so real filesystems run on it and
// every guest write passes through this process.
//
// Because every write passes through, the data plane can do what a cloud
// disk service does and a plain image file cannot: close a disk's write
// gate (block new writes, wait for the ones in flight), and capture one or
// several disks at one instant. A capture is a copy-on-write epoch: a chunk
// about to be overwritten is copied into the snapshot first, and the rest
// is copied in the background, so the gate is closed for well under a
// millisecond (reference/dataplane.md measured 0.1-0.9 ms under a btrfs
// writer). What a snapshot costs follows the bytes: a disk's first snapshot
// is the whole disk, later ones the chunks written since the previous one.
//
// The package knows nothing of the ECS API; the API emulator (package
// ecsemu) calls it. The FUSE writeback cache stays off (go-fuse's default):
// then a write the guest saw complete is already in this process, and a
// capture is crash-consistent.
package dataplane
