// Package loopfs makes throwaway filesystems on loop devices for the freeze
// self-test and the root-tier tests, and refuses to hand out anything that
// is not such a filesystem: freezing the wrong one (the root, the work tree)
// would hang the machine.
package loopfs
