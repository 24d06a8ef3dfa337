# Sourced by packaging/pm-test and packaging/ansible-test: messages, the
# emulator and its admin API, and a copy-on-write root. NAME is the
# sourcing script's name, for messages.

log() { printf '%s: %s\n' "$NAME" "$*" >&2; }
die() {
	log "FAIL: $*"
	exit 1
}
# skip REASON: not tested here; an error under CI, where everything is
# expected to be in place. The caller decides whether to go on.
skip() {
	if [ "${CI:-}" = true ]; then
		die "cannot run: $*"
	fi
	log "SKIP: $*"
}

# start_emulator WORK ARGS...: ecssnap-emu on loopback with ARGS; sets
# emu_pid, and api, imds, admin from its ready line (WORK/ready).
start_emulator() {
	local work=$1
	shift
	"$repo/bin/ecssnap-emu" "$@" >"$work/ready" 2>"$work/emu.log" &
	emu_pid=$!
	for _ in $(seq 100); do
		[ -s "$work/ready" ] && break
		kill -0 "$emu_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -s "$work/ready" ] || {
		cat "$work/emu.log" >&2
		die "the emulator did not start"
	}
	ready=$work/ready
	api=$(ready_field api)
	imds=$(ready_field imds)
	admin=$(ready_field admin)
}
ready_field() { jq -er --arg k "$1" '.[$k]' "$ready"; }

# admin METHOD PATH [BODY]: the emulator's admin API.
admin() {
	curl -fsS --noproxy '*' -X "$1" ${3:+-H 'Content-Type: application/json' --data "$3"} "$admin$2" ||
		die "admin API: $1 $2 failed"
}
state() { admin GET /v1/state; }
snapshot_count() { state | jq '.snapshots | length'; }

# cow_root DIR: mount at DIR/root a copy-on-write view of this machine, an
# overlay over / whose upper layer is a tmpfs of the current (private)
# mount namespace, so nothing written in it reaches the machine; /proc,
# /dev, /tmp and /run are mounted afresh in it. Prints the root.
cow_root() {
	local dir=$1
	mkdir -p "$dir"
	mount -t tmpfs -o mode=0755 tmpfs "$dir"
	mkdir "$dir/upper" "$dir/work" "$dir/root"
	mount -t overlay overlay -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work" "$dir/root" ||
		die "cannot mount an overlay over / (overlayfs)"
	mount -t proc proc "$dir/root/proc"
	mount --bind /dev "$dir/root/dev"
	mount -t tmpfs -o mode=1777 tmpfs "$dir/root/tmp"
	mount -t tmpfs -o mode=0755 tmpfs "$dir/root/run"
	mkdir -p "$dir/root/srv"
	echo "$dir/root"
}
