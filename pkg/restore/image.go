package restore

import (
	"context"
	"fmt"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/job"
)

// ImageState is an image's journal beyond its steps.
type ImageState struct {
	Name    string            `json:"name"`
	Token   string            `json:"client_token"`
	Disks   []cloud.ImageDisk `json:"disks"`
	ImageID string            `json:"image_id,omitempty"`
}

// ImagePlan is the image a job makes.
type ImagePlan struct {
	Job   Job               `json:"job"`
	Name  string            `json:"name"`
	Disks []cloud.ImageDisk `json:"disks"` // the system disk first
}

// PlanImage checks that a job can make a custom image: it needs its
// system disk's snapshot; the data disks' snapshots join as data disks.
func PlanImage(ctx context.Context, c Cloud, jobID, instanceID, name string, expect []string) (*ImagePlan, error) {
	found, err := FindJob(ctx, c, jobID, instanceID, expect)
	if err != nil {
		return nil, err
	}
	if name == "" {
		name = "ecssnap-" + jobID
	}
	p := &ImagePlan{Job: found, Name: name}
	for _, s := range found.Snapshots {
		p.Disks = append(p.Disks, cloud.ImageDisk{SnapshotID: s.SnapshotID, System: s.DiskType == "system"})
	}
	if len(p.Disks) == 0 || !p.Disks[0].System {
		return nil, usagef("job %s has no snapshot of the system disk; an image needs one (take a job with --disks all or system)", jobID)
	}
	return p, nil
}

// Image creates the custom image, waits until it is Available and returns
// the record with its ID. A rerun after an interruption repeats the create
// with the recorded ClientToken and so finds the same image.
func Image(ctx context.Context, c Cloud, j *Journal, region string, p *ImagePlan, opts Options) (*Record, error) {
	o := opts.withDefaults()
	unlock, err := j.Lock(KindImage, p.Job.ID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rec, ok, err := j.Get(KindImage, p.Job.ID)
	if err != nil {
		return nil, err
	}
	if !ok || rec.Image.Name != p.Name || (rec.State == StateDone && rec.Image.ImageID == "") {
		rec = &Record{Kind: KindImage, JobID: p.Job.ID, InstanceID: p.Job.InstanceID, RegionID: region, State: StateRunning,
			Image: &ImageState{Name: p.Name, Token: token("ecssnap-img", p.Job.ID, p.Name), Disks: p.Disks}}
		if err := j.Save(rec); err != nil {
			return nil, err
		}
	}
	fail := func(err error) (*Record, error) {
		rec.Error = err.Error()
		_ = j.Save(rec)
		return rec, err
	}
	// CreateImage refuses unfinished snapshots, instant access or not.
	ids := make([]string, len(p.Disks))
	for i, d := range p.Disks {
		ids[i] = d.SnapshotID
	}
	if len(p.Job.unfinished()) > 0 {
		o.Progress("waiting for the job's snapshots to finish")
		if err := o.waitFor(ctx, "the job's snapshots", func() (bool, error) {
			snaps, err := c.DescribeSnapshots(ctx, ids)
			if err != nil {
				return false, err
			}
			for _, s := range snaps {
				if s.Status == cloud.StatusFailed {
					return false, usagef("snapshot %s failed; the job cannot make an image", s.ID)
				}
				if s.Status != cloud.StatusAccomplished {
					return false, nil
				}
			}
			return len(snaps) == len(ids), nil
		}); err != nil {
			return fail(err)
		}
	}
	if rec.Image.ImageID == "" {
		o.Progress(fmt.Sprintf("creating image %s from %d snapshot(s)", p.Name, len(p.Disks)))
		id, err := j.step(rec, "CreateImage", p.Name, rec.Image.Token, func() (string, error) {
			return c.CreateImage(ctx, cloud.CreateImageInput{
				Name: p.Name, Description: "ecssnap: job " + p.Job.ID, Disks: p.Disks, ClientToken: rec.Image.Token,
				Tags: []cloud.Tag{{Key: job.TagManaged, Value: "true"}, {Key: job.TagJob, Value: p.Job.ID}},
			})
		})
		if err != nil {
			if cloud.KindOf(err) == cloud.KindInvalidParameter && hasCode(err, cloud.CodeImageDuplicated) {
				return fail(usagef("an image named %s already exists; pass another --name", p.Name))
			}
			return fail(fmt.Errorf("create image: %w", err))
		}
		rec.Image.ImageID = id
		if err := j.Save(rec); err != nil {
			return rec, err
		}
	}
	o.Progress("waiting for image " + rec.Image.ImageID + " to be Available")
	if err := o.waitFor(ctx, "image "+rec.Image.ImageID, func() (bool, error) {
		im, ok, err := c.DescribeImage(ctx, rec.Image.ImageID)
		switch {
		case err != nil:
			return false, err
		case !ok:
			return false, fmt.Errorf("image %s disappeared while it was being created", rec.Image.ImageID)
		case im.Status == "CreateFailed" || im.Status == "UnAvailable":
			return false, fmt.Errorf("image %s is %s", im.ID, im.Status)
		}
		return im.Status == "Available", nil
	}); err != nil {
		return fail(err)
	}
	rec.State, rec.Error = StateDone, ""
	return rec, j.Save(rec)
}
