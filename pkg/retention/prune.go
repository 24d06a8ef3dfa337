package retention

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ecssnap/ecssnap/pkg/cloud"
)

// Cloud is the part of *cloud.Client retention uses.
type Cloud interface {
	ListSnapshotsByTag(ctx context.Context, instanceID string, tag cloud.Tag) ([]cloud.Snapshot, error)
	ListSnapshotGroupsByTag(ctx context.Context, instanceID string, tag cloud.Tag) ([]cloud.SnapshotGroup, error)
	ListManualSnapshots(ctx context.Context, diskID string) ([]cloud.Snapshot, error)
	DeleteSnapshot(ctx context.Context, id string, force bool) error
	DeleteSnapshotGroup(ctx context.Context, id string) error
}

// Options are the knobs of one Prune or MakeRoom run.
type Options struct {
	DryRun bool             // decide and report, delete nothing
	Now    func() time.Time // time.Now when nil
	Logger *slog.Logger     // discards when nil
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Report is what a run deleted and what it could not delete. A dry run
// lists everything it would try under Deleted: only the API can tell which
// snapshots are in use.
type Report struct {
	DryRun  bool       `json:"dry_run"`
	Deleted []Deletion `json:"deleted"`
	Failed  []Failure  `json:"failed,omitempty"`
}

// Failure is a deletion that did not happen (or, for a group member the
// API kept, only partly happened).
type Failure struct {
	Deletion
	Err error `json:"-"`
}

// InUse reports whether the snapshot was kept because a disk or an image
// was created from it: expected, and never forced.
func (f Failure) InUse() bool {
	var ae *cloud.APIError
	return errors.As(f.Err, &ae) && (ae.Code == cloud.CodeSnapshotCreatedDisk || ae.Code == cloud.CodeSnapshotCreatedImage)
}

// MarshalJSON adds the error text and the in-use mark.
func (f Failure) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Deletion
		Error string `json:"error"`
		InUse bool   `json:"in_use"`
	}{f.Deletion, fmt.Sprint(f.Err), f.InUse()})
}

// Err joins the failures other than snapshots in use, or returns nil.
func (r Report) Err() error {
	var errs []error
	for _, f := range r.Failed {
		if !f.InUse() {
			errs = append(errs, fmt.Errorf("delete %s %s: %w", f.Kind, f.ID, f.Err))
		}
	}
	return errors.Join(errs...)
}

// Prune applies cfg to the instance's managed snapshots and groups: it
// plans (see Plan) and deletes, oldest job first. A failed deletion is
// recorded in the report and the rest go on; the error is for a run that
// could not list, was given a bad config, or was cancelled.
func Prune(ctx context.Context, c Cloud, instanceID string, cfg Config, opts Options) (Report, error) {
	opts = opts.withDefaults()
	rep := Report{DryRun: opts.DryRun}
	if err := cfg.Validate(); err != nil {
		return rep, err
	}
	snaps, groups, err := listManaged(ctx, c, instanceID)
	if err != nil {
		return rep, err
	}
	for _, d := range Plan(snaps, groups, cfg, opts.Now()) {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("prune: %w", err)
		}
		rep.apply(ctx, c, d, opts)
	}
	return rep, nil
}

// listManaged lists the instance's snapshots and groups tagged as managed.
func listManaged(ctx context.Context, c Cloud, instanceID string) ([]cloud.Snapshot, []cloud.SnapshotGroup, error) {
	snaps, err := c.ListSnapshotsByTag(ctx, instanceID, managedTag)
	if err != nil {
		return nil, nil, fmt.Errorf("list ecssnap's snapshots: %w", err)
	}
	groups, err := c.ListSnapshotGroupsByTag(ctx, instanceID, managedTag)
	if err != nil {
		return nil, nil, fmt.Errorf("list ecssnap's snapshot groups: %w", err)
	}
	return snaps, groups, nil
}

// apply makes one deletion (unless dry) and records the outcome. It returns
// the IDs of member snapshots the API kept when deleting a group.
func (r *Report) apply(ctx context.Context, c Cloud, d Deletion, opts Options) (ok bool, kept []string) {
	log := opts.Logger.With("kind", d.Kind, "id", d.ID, "job", d.Job, "trigger", d.Trigger, "reason", d.Reason)
	if opts.DryRun {
		log.Info("would delete")
		r.Deleted = append(r.Deleted, d)
		return true, nil
	}
	var err error
	if d.Kind == KindGroup {
		err = c.DeleteSnapshotGroup(ctx, d.ID)
	} else {
		err = c.DeleteSnapshot(ctx, d.ID, false) // in use: never forced
	}
	var mk *cloud.MembersKeptError
	if errors.As(err, &mk) {
		for _, m := range mk.Kept {
			kept = append(kept, m.SnapshotID)
			member := d
			member.Kind, member.ID = KindSnapshot, m.SnapshotID
			r.Failed = append(r.Failed, Failure{Deletion: member, Err: &cloud.APIError{
				Action: "DeleteSnapshotGroup", Resource: m.SnapshotID, Code: m.Code, Message: m.Message}})
		}
		err = nil
	}
	if err != nil {
		r.Failed = append(r.Failed, Failure{Deletion: d, Err: err})
		return false, nil
	}
	log.Info("deleted", "kept_members", len(kept))
	r.Deleted = append(r.Deleted, d)
	return true, kept
}
