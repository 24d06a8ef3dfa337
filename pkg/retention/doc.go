// Package retention decides which of ecssnap's snapshots to delete and
// deletes them: per-trigger keep-last-N and max-age (Plan, Prune), and
// quota-aware eviction before a job creates snapshots (MakeRoom).
//
// Only snapshots and snapshot-consistent groups tagged ecssnap:managed=true
// are ever considered; everything else is invisible to Plan and Prune and
// is only counted (never deleted) by MakeRoom. The unit of retention is the
// job (tag ecssnap:job): a job's snapshots and its group are kept or deleted
// together, and a group goes with one DeleteSnapshotGroup call, which also
// deletes its members. Nothing still progressing is deleted, and nothing is
// force-deleted: a snapshot that a disk or an image was created from is
// reported and left in place.
//
// Policies, with the defaults of DefaultConfig:
//
//	retention:
//	  default:              # every trigger without its own entry
//	    keep_last: 10       # the 10 newest usable jobs of each trigger
//	    max_age: 30d        # and none older than 30 days
//	  triggers:             # per ecssnap:trigger value; omitted keys
//	    apt: {keep_last: 5} # inherit from default, 0 means no limit
//	  important:            # jobs tagged ecssnap:important=true
//	    keep_last: 50       # only this policy deletes them; counted
//	    max_age: 0          # across all triggers, no age limit
//
// A job is deleted when it is older than max_age or when keep_last newer
// usable jobs of its trigger exist (both limits apply; 0 disables one).
// Only jobs with at least one accomplished snapshot count toward keep_last,
// so a run of failed jobs never pushes the last good one out. Note that
// max_age alone can leave a trigger with no snapshot at all if no job ran
// for that long.
//
// The manual snapshot quota per disk is DefaultManualSnapshotQuota (256,
// unconfirmed for today's API) unless the caller passes another value to
// MakeRoom.
package retention
