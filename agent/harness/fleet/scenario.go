package fleet

import (
	"fmt"
	"time"

	"github.com/ecssnap/ecssnap/pkg/ecsemu"
)

// zones the instances are spread over, as a fleet in one region would be.
var zones = []string{"cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"}

// Scenario is one account in cn-hangzhou with n instances, each with an
// ESSD system disk and dataDisks ESSD data disks, whose snapshots take
// snapshotTime. Instance 0 is the scenario's Instance, the rest are its
// Instances. Nothing exists beforehand, so every snapshot in the state
// after a run was made by the run.
func Scenario(n, dataDisks int, snapshotTime time.Duration) *ecsemu.Scenario {
	sc := ecsemu.DefaultScenario()
	sc.RAMRole = nil // agents sign with the account's access key
	sc.Disks = nil
	sc.Speed = ecsemu.Speed{MiBPerSecond: 1 << 30, Minimum: ecsemu.Duration(snapshotTime)}
	for i := range n {
		in := ecsemu.Instance{
			ID: instanceID(i), ZoneID: zones[i%len(zones)], Type: "ecs.g7.large",
			Hostname: fmt.Sprintf("fleet-%04d", i), ImageID: sc.Instance.ImageID,
			SerialNumber: fmt.Sprintf("f1ee7000-0000-4000-8000-%012d", i),
		}
		owner := ""
		if i == 0 {
			sc.Instance = in
		} else {
			sc.Instances = append(sc.Instances, in)
			owner = in.ID
		}
		sc.Disks = append(sc.Disks, ecsemu.Disk{
			ID: fmt.Sprintf("d-bp1fsys%012d", i), InstanceID: owner, Name: "system", Type: "system",
			SizeGiB: 40, PerformanceLevel: "PL0", DeleteWithInstance: true,
		})
		for j := range dataDisks {
			sc.Disks = append(sc.Disks, ecsemu.Disk{
				ID: fmt.Sprintf("d-bp1fd%02d%012d", j, i), InstanceID: owner, Name: fmt.Sprintf("data%d", j),
				SizeGiB: 100, PerformanceLevel: "PL1",
			})
		}
	}
	return sc
}

// instanceID names the fleet's instance i the way real IDs look (i-bp1...,
// 22 characters).
func instanceID(i int) string { return fmt.Sprintf("i-bp1fleet%012d", i) }
