package hook

// Paths the hook reads, relative to Env.Root: the only place they are
// spelled out.
const (
	procDir          = "proc"       // procfs
	procSelf         = "self"       // /proc/self: the hook process
	procInit         = "1"          // PID 1
	procStatFile     = "stat"       // /proc/<pid>/stat
	procCmdlineFile  = "cmdline"    // /proc/<pid>/cmdline
	procRootLink     = "root"       // /proc/<pid>/root: the process's root directory
	procEnvironFile  = "environ"    // /proc/<pid>/environ
	procCgroupFile   = "cgroup"     // /proc/<pid>/cgroup
	dockerEnvFile    = ".dockerenv" // Docker's marker in a container's root
	podmanEnvFile    = "run/.containerenv"
	systemdContainer = "run/systemd/container" // written by systemd inside a container
)

// defaultConfigFile is where messages say the hook policy is set.
const defaultConfigFile = "/etc/ecssnap/config.yaml"

// Environment variables the hook reads.
const (
	envSkip = "ECSSNAP_SKIP" // "1" skips the snapshot
	// envUnattended, when set, makes the run unattended whatever the
	// process tree says (the apt-daily-upgrade drop-in sets it).
	envUnattended = "ECSSNAP_UNATTENDED"
	envFakeChroot = "FAKECHROOT" // "true" under fakechroot
	envContainer  = "container"  // set for PID 1 (and inherited) by container managers
	envSudoUser   = "SUDO_USER"  // the hint to skip once says sudo when sudo ran the command
	envConfig     = "ECSSNAP_CONFIG"
	// zypper's plugin timeouts in seconds (libzypp PluginScript).
	envZyppTimeout        = "ZYPP_PLUGIN_TIMEOUT"
	envZyppReceiveTimeout = "ZYPP_PLUGIN_RECEIVE_TIMEOUT"
)
