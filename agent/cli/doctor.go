package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ecssnap/ecssnap/pkg/cloud"
	"github.com/ecssnap/ecssnap/pkg/freeze"
	"github.com/ecssnap/ecssnap/pkg/imds"
	"github.com/ecssnap/ecssnap/pkg/job"
	"github.com/ecssnap/ecssnap/pkg/localapi"
)

// Check results.
const (
	pass = "PASS"
	warn = "WARN"
	bad  = "FAIL"
)

// check is one line of the doctor's report.
type check struct {
	Name   string `json:"name"`
	Result string `json:"result"`
	Detail string `json:"detail"`
}

// hookFiles are where the packages put each package manager's hook.
var hookFiles = []struct{ manager, file string }{
	{"apt-get", "/etc/apt/apt.conf.d/80ecssnap"},
	{"dnf5", "/etc/dnf/libdnf5-plugins/actions.d/ecssnap.actions"},
	{"dnf", "/etc/dnf/plugins/ecssnap.conf"},
	{"yum", "/etc/yum/pluginconf.d/ecssnap.conf"},
	{"zypper", "/usr/lib/zypp/plugins/commit/ecssnap"},
	{"pacman", "/usr/share/libalpm/hooks/ecssnap.hook"},
}

// doctor runs every check; later checks use what earlier ones learned.
type doctor struct {
	a      *app
	checks []check
	id     imds.Identity
	cl     *cloud.Client
	inv    *job.Inventory
}

func (d *doctor) add(name, result, format string, args ...any) {
	d.checks = append(d.checks, check{Name: name, Result: result, Detail: fmt.Sprintf(format, args...)})
}

func newDoctorCmd(r *runner) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "doctor [flags]",
		Short: "check metadata, credentials, RAM permissions, disks, quotas, freezing, hooks, daemon",
		Args:  noArgs,
		RunE: r.with(func(ctx context.Context, a *app, _ []string) error {
			return runDoctor(ctx, a, &jsonOut)
		}),
	}
	jsonFlag(cmd, &jsonOut)
	return cmd
}

func runDoctor(ctx context.Context, a *app, jsonOut *bool) error {
	d := &doctor{a: a}
	d.apiEndpoint()
	d.metadata(ctx)
	d.credentials(ctx)
	d.permissions(ctx)
	d.disks(ctx)
	d.quota(ctx)
	d.freezing(ctx)
	d.hooks()
	d.hookScripts()
	d.daemon(ctx)
	if *jsonOut {
		if err := writeJSON(a.env.Stdout, d.checks); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(a.env.Stdout, 0, 4, 2, ' ', 0)
		for _, c := range d.checks {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", c.Result, c.Name, c.Detail)
		}
		tw.Flush()
	}
	failed := 0
	for _, c := range d.checks {
		if c.Result == bad {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("doctor: %s failed; see the lines marked FAIL", plural(failed, "check", "checks"))
	}
	return nil
}

// apiEndpoint says how the ECS API is reached: plain HTTP to another
// machine (allowed only by api_insecure_http) sends the credentials in clear.
func (d *doctor) apiEndpoint() {
	cfg := d.a.cfg
	insecure, host := cfg.InsecureAPIEndpoint()
	switch {
	case insecure:
		d.add("API endpoint", warn, "%s is plain HTTP to %s (api_insecure_http: true): the access key ID and STS token cross the network in clear; use https://", cfg.APIEndpoint, host)
	case strings.HasPrefix(strings.ToLower(cfg.APIEndpoint), "http://"):
		d.add("API endpoint", pass, "%s: plain HTTP, to this machine only (loopback)", cfg.APIEndpoint)
	case cfg.APIEndpoint == "":
		d.add("API endpoint", pass, "the region's VPC endpoint over HTTPS")
	default:
		d.add("API endpoint", pass, "%s over HTTPS", cfg.APIEndpoint)
	}
}

func (d *doctor) metadata(ctx context.Context) {
	md := d.a.metadata()
	id, err := md.ReadIdentity(ctx) // the service itself, not what a job kept
	var st *imds.StatusError
	switch {
	case err == nil:
		d.add("metadata service", pass, "%s answers in token mode", md.Endpoint())
		d.add("instance identity", pass, "%s in %s (%s), %s", id.InstanceID, id.RegionID, id.ZoneID, dash(id.InstanceType))
		d.id = id
	case errors.As(err, &st):
		d.add("metadata service", bad, "%v: check that token mode (PUT /latest/api/token) is allowed for this instance", err)
	default:
		d.add("metadata service", bad, "%v", err)
	}
}

func (d *doctor) credentials(ctx context.Context) {
	if d.id.RegionID == "" {
		d.add("credentials", warn, "not checked: the instance identity is unknown")
		return
	}
	cl, err := d.a.newCloud(d.id.RegionID)
	if err != nil {
		d.add("credentials", bad, "%v", err)
		return
	}
	if _, err := cl.Credentials().GetCredentials(); err != nil {
		d.add("credentials", bad, "%v: attach a RAM role to the instance (see /usr/share/doc/ecssnap/ram-policy.json)", err)
		return
	}
	d.cl = cl
	d.add("credentials", pass, "from %s; API endpoint %s", cl.Credentials().Source(), cl.Endpoint())
}

func (d *doctor) permissions(ctx context.Context) {
	if d.cl == nil {
		d.add("RAM permissions", warn, "not checked: no credentials")
		return
	}
	for _, action := range cloud.ProbeActions {
		perm, err := d.cl.Probe(ctx, d.id.InstanceID, action)
		name := "RAM ecs:" + action
		switch {
		case perm == cloud.PermissionAllowed:
			d.add(name, pass, "allowed")
		case perm == cloud.PermissionDenied && strings.HasPrefix(action, "Delete"):
			// The shipped policy allows deletes only of snapshots tagged
			// ecssnap:managed=true, which a probe of a missing one is not.
			d.add(name, warn, "denied for an untagged probe; expected if the policy limits deletes to ecssnap:managed=true")
		case perm == cloud.PermissionDenied:
			d.add(name, bad, "denied: add ecs:%s to the instance's RAM role policy", action)
		default:
			d.add(name, warn, "could not tell: %v", err)
		}
	}
}

func (d *doctor) disks(ctx context.Context) {
	if d.cl == nil {
		return
	}
	inv, err := d.a.engine(nil).Inventory(ctx)
	if err != nil {
		d.add("disks", bad, "%v", err)
		return
	}
	d.inv = inv
	if inv.Mapping == nil {
		d.add("disks mapped", warn, "the local disk layout could not be read: %s", strings.Join(inv.Warnings, "; "))
	} else {
		for _, m := range inv.Mapping.Disks {
			switch {
			case m.Reason != "":
				d.add("disk "+m.Disk.ID, warn, "not mapped to a local device (%s): its filesystems cannot be frozen", m.Reason)
			case m.Warning != "":
				d.add("disk "+m.Disk.ID, warn, "%s: %s", m.Device, m.Warning)
			default:
				d.add("disk "+m.Disk.ID, pass, "%s (matched by %s)", m.Device, m.Method)
			}
		}
	}
	var grouped, single []string
	for _, disk := range inv.Disks {
		if groupable(disk) == "yes" {
			grouped = append(grouped, disk.ID)
		} else {
			single = append(single, disk.ID)
		}
	}
	switch {
	case len(single) == 0:
		d.add("snapshot group", pass, "every disk can join one snapshot-consistent group")
	case len(grouped) >= 2:
		d.add("snapshot group", warn, "%s cannot join a group: per-disk snapshots, kept consistent by freezing", strings.Join(single, ", "))
	default:
		d.add("snapshot group", warn, "no group possible: per-disk snapshots, kept consistent by freezing")
	}
}

func (d *doctor) quota(ctx context.Context) {
	if d.inv == nil {
		return
	}
	limit := d.a.cfg.QuotaPerDisk
	for _, disk := range d.inv.Disks {
		snaps, err := d.cl.ListManualSnapshots(ctx, disk.ID)
		switch {
		case err != nil:
			d.add("quota "+disk.ID, warn, "could not count its snapshots: %v", err)
		case len(snaps) >= limit:
			d.add("quota "+disk.ID, warn, "%d of %d manual snapshots: ecssnap will evict its oldest managed job first", len(snaps), limit)
		default:
			d.add("quota "+disk.ID, pass, "%d of %d manual snapshots", len(snaps), limit)
		}
	}
}

func (d *doctor) freezing(ctx context.Context) {
	if os.Geteuid() != 0 {
		d.add("freeze support", warn, "not checked: run `sudo ecssnap doctor` (freezing needs root)")
		return
	}
	rep, err := freeze.SelfTest(ctx, freeze.SelfTestOptions{})
	if err != nil {
		d.add("freeze support", warn, "selftest could not run: %v", err)
		return
	}
	for _, r := range rep.Results {
		switch r.Status {
		case freeze.SelfTestSupported:
			d.add("freeze "+r.FSType, pass, "froze, blocked a write, thawed; recovery by the %s", r.Recovered)
		case freeze.SelfTestUnavailable:
			d.add("freeze "+r.FSType, warn, "not tried: %s", r.Detail)
		default:
			d.add("freeze "+r.FSType, bad, "%s: %s", r.Status, r.Detail)
		}
	}
}

func (d *doctor) hooks() {
	found := false
	for _, h := range hookFiles {
		if _, err := exec.LookPath(h.manager); err != nil {
			continue
		}
		found = true
		if _, err := os.Stat(h.file); err != nil {
			d.add("hook "+h.manager, warn, "%s is missing: upgrades through %s take no snapshot (reinstall the ecssnap package)", h.file, h.manager)
		} else {
			d.add("hook "+h.manager, pass, "%s", h.file)
		}
	}
	if !found {
		d.add("package-manager hooks", warn, "no supported package manager found")
	}
}

func (d *doctor) daemon(ctx context.Context) {
	h, err := localapi.NewClient(d.a.cfg.Socket).Health(ctx)
	switch {
	case errors.Is(err, localapi.ErrDaemonNotRunning):
		d.add("daemon", warn, "%v (jobs still run, in the calling process)", err)
		return
	case err != nil:
		d.add("daemon", bad, "%v", err)
		return
	}
	d.add("daemon", pass, "running, pid %d, version %s", h.PID, h.Version)
	fi, err := os.Stat(d.a.cfg.Socket)
	if err != nil {
		d.add("socket", bad, "%v", err)
		return
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	switch {
	case fi.Mode().Perm() != 0o660:
		d.add("socket", warn, "%s has mode %o, want 0660", d.a.cfg.Socket, fi.Mode().Perm())
	case st != nil && st.Gid == 0:
		d.add("socket", warn, "%s belongs to group root: create the group ecssnap (groupadd --system ecssnap) and restart the daemon", d.a.cfg.Socket)
	default:
		d.add("socket", pass, "%s mode 0660", d.a.cfg.Socket)
	}
}
