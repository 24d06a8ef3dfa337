// Package topology discovers which block devices, partitions, stacked
// devices (device-mapper, md) and mounted filesystems exist on the local
// Linux machine, and joins the whole disks it finds with the cloud's
// inventory of the instance's disks.
//
// Everything is read through an FS built from an injected root, so tests
// and the ECSSNAP_ROOT override point it at a fixture tree captured from a
// real machine (scripts/capture-topology) instead of the live /sys, /proc
// and /dev. The parsers of kernel text (mountinfo, sysfs attributes) are
// pure functions kept apart from the I/O that feeds them.
//
// The central question the package answers is DisksUnder: which whole
// disks hold a mounted filesystem, following partitions to their disk,
// device-mapper and md devices through their slaves, and btrfs through
// /sys/fs/btrfs/<fsid>/devices (mountinfo reports btrfs with major 0, so
// the device number alone says nothing about where the data lives).
package topology
