package ecsemu

import "slices"

// Snapshot statuses and types as the API spells them.
const (
	snapProgressing  = "progressing"
	snapAccomplished = "accomplished"
	snapFailed       = "failed"
	snapTypeUser     = "user"
	snapTypeAuto     = "auto"
)

// Instance and disk statuses as the API spells them.
var (
	instanceStatuses = []string{"Pending", "Running", "Starting", "Stopping", "Stopped"}
	diskStatuses     = []string{"In_use", "Available", "Attaching", "Detaching", "Creating", "ReIniting"}
)

// Disk categories. The ESSD family (ESSD, ESSD AutoPL, ESSD Entry and
// regional ESSD) allows 10 concurrent snapshot tasks per disk and
// snapshot-consistent groups; older categories allow one task and no groups;
// local disks cannot be snapshotted at all.
var (
	essdFamily = []string{"cloud_essd", "cloud_auto", "cloud_essd_entry", "cloud_regional_disk_auto"}
	cloudOther = []string{"cloud", "cloud_efficiency", "cloud_ssd"}
	localDisks = []string{"ephemeral", "ephemeral_ssd", "local_ssd_pro", "local_hdd_pro",
		"elastic_ephemeral_disk_standard", "elastic_ephemeral_disk_premium"}
)

const regionalESSD = "cloud_regional_disk_auto"

func isESSDFamily(category string) bool { return slices.Contains(essdFamily, category) }
func isLocalDisk(category string) bool  { return slices.Contains(localDisks, category) }
func knownCategory(category string) bool {
	return isESSDFamily(category) || isLocalDisk(category) || slices.Contains(cloudOther, category)
}

// concurrentSnapshotLimit is how many snapshots of one disk may be in
// progress at once.
func concurrentSnapshotLimit(category string) int {
	if isESSDFamily(category) {
		return 10
	}
	return 1
}
