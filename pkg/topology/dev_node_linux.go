package topology

import (
	"os"
	"syscall"
)

// blockDeviceNumber returns the device number of a block device node.
func blockDeviceNumber(path string) (major, minor uint32, ok bool) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeDevice == 0 || fi.Mode()&os.ModeCharDevice != 0 {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	// Linux's 64-bit dev_t layout (glibc gnu_dev_major/minor): the major's
	// low 12 bits sit at 8..19 and its high 20 bits at 44..63; the minor's
	// low 8 bits at 0..7 and its high 24 bits at 20..43.
	rdev := uint64(st.Rdev)
	major = uint32((rdev&0x00000000000fff00)>>8 | (rdev&0xfffff00000000000)>>32)
	minor = uint32(rdev&0x00000000000000ff | (rdev&0x00000ffffff00000)>>12)
	return major, minor, true
}
