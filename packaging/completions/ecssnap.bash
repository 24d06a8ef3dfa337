# bash completion for ecssnap and snapshot-now (= ecssnap now).

_ecssnap() {
    local cur prev cmd i
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}

    local commands="now plan disks list show status prune doctor selftest daemon service hook mount unmount mounts rollback image help version"
    local now_flags="--reason --trigger --disks --mount --consistency --require --allow-inconsistent
        --wait --no-wait --timeout --retention-days --tag --important --force --session --json --dry-run --help"

    # snapshot-now is `ecssnap now`; for ecssnap the first non-flag word is
    # the command.
    if [[ ${COMP_WORDS[0]##*/} == snapshot-now ]]; then
        cmd=now
    else
        cmd=
        for ((i = 1; i < COMP_CWORD; i++)); do
            if [[ ${COMP_WORDS[i]} != -* ]]; then
                cmd=${COMP_WORDS[i]}
                break
            fi
        done
        if [[ -z $cmd ]]; then
            COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
            return
        fi
    fi

    # Values of flags that take one.
    case $prev in
    --disks)
        COMPREPLY=($(compgen -W "all system data" -- "$cur"))
        return ;;
    --consistency | --require)
        COMPREPLY=($(compgen -W "crash fs app" -- "$cur"))
        return ;;
    --trigger)
        COMPREPLY=($(compgen -W "manual script apt dnf yum zypper pacman" -- "$cur"))
        return ;;
    --mount | --at)
        COMPREPLY=($(compgen -d -- "$cur"))
        return ;;
    --reason | --timeout | --retention-days | --tag | --session | --limit | --instance | --region | --name)
        return ;;
    esac

    local words
    case $cmd in
    now) words=$now_flags ;;
    plan) words="--disks --mount --allow-inconsistent --json --help" ;;
    list) words="--snapshots --limit --json --help" ;;
    prune) words="--dry-run --json --help" ;;
    disks | show | status | doctor | selftest | mounts) words="--json --help" ;;
    mount) words="--at --json --help" ;;
    unmount) words="--help" ;;
    rollback) words="--instance --region --yes --dry-run --keep-current --json --help" ;;
    image) words="--name --instance --region --json --help" ;;
    service) words="install uninstall start stop restart status" ;;
    hook) words="apt dnf dnf5 yum zypper pacman" ;;
    *) words= ;;
    esac
    COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _ecssnap ecssnap snapshot-now
