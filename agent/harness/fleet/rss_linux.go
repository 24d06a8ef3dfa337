package fleet

import "os"

// peakRSS returns the process's peak resident set size (VmHWM).
func peakRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	return parseVmHWM(data)
}
