package hook

// procfsExpected: every Linux system has /proc mounted, so a root without
// it is a chroot.
const procfsExpected = true
